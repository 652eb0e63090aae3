"""One cause, one slice: consolidation of candidates, rules in the data's words, the null case."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from silentscope.slices import discover_slices
from silentscope.slices.consolidate import consolidate
from silentscope.slices.discover import independent_units, split_by_unit, unit_note
from silentscope.slices.result import part_note, slices_html
from silentscope.slices.rules import condition_matrix, learn_rule, rule_agreement
from silentscope.slices.simulation import single_cause_audit


def _members(report, audit, rank):
    chosen = report.membership.loc[report.membership["rank"] == rank, "sample_id"]
    return np.isin(audit.sample_id, chosen)


def test_one_planted_cause_is_reported_as_one_slice_that_absorbed_the_others():
    audit, planted = single_cause_audit(4000, 0)
    report = discover_slices(audit)
    assert report.n_slices == 1
    top = report.slices.iloc[0]
    # the views and seeds cut the cause into several confirmed candidates: all absorbed
    assert top["absorbed"] >= 2 and len(top["merged_from"].split(",")) == top["absorbed"]
    # the whole cause (its pieces joined, each found where it fails), named in the data's words
    assert set(top["rule"].split(" AND ")) == {"site = C", 'report mentions "chest tube"'}
    assert top["rule_precision"] > 0.6 and top["rule_recall"] > 0.6  # held-out
    members = _members(report, audit, 1)
    assert (members & planted).sum() / (members | planted).sum() >= 0.8  # Jaccard (0.99)
    assert "absorbed" in str(report) and "rule: " in str(report)


def test_disjoint_halves_sharing_an_explanation_join_but_different_causes_do_not():
    n = 600
    membership = np.zeros((n, 3), bool)
    membership[:40, 0] = membership[40:80, 1] = True  # two halves of one cause
    membership[80:200, 2] = True  # a milder failure that shares a condition with them
    rate = np.r_[np.full(80, 0.75), np.full(120, 0.25), np.full(400, 0.05)]
    errors = np.random.default_rng(0).random(n) < rate
    fit = np.arange(0, n, 2)
    shared = {0: {"site = C", "age > 60"}, 1: {"site = C", "age <= 60"}, 2: {"site = C"}}
    groups = consolidate([0, 1, 2], membership, errors, fit, shared)
    assert [g.slices for g in groups] == [[0, 1], [2]]
    assert groups[0].widened and groups[0].mask.sum() == 80
    assert groups[0].reasons == {1: "same explanation"}


def test_a_candidate_whose_excess_lies_inside_a_kept_slice_is_absorbed():
    n = 600
    membership = np.zeros((n, 2), bool)
    membership[:60, 0] = True  # the cause
    membership[30:150, 1] = True  # half the cause plus ordinary samples
    errors = np.random.default_rng(1).random(n) < np.where(np.arange(n) < 60, 0.8, 0.05)
    groups = consolidate([0, 1], membership, errors, np.arange(0, n, 2), merge_overlap=0.9)
    assert [g.slices for g in groups] == [[0, 1]]
    assert groups[0].reasons == {1: "explained by this slice"} and not groups[0].widened


def test_rule_names_its_columns_and_is_scored_on_held_out_rows():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"site": rng.choice(list("ABCD"), n), "age": rng.integers(20, 90, n)})
    device = rng.random(n) < 0.3
    texts = np.char.add(
        np.where(device, "Chest tube in place. ", "Clear lungs. "),
        np.where(rng.random(n) < 0.5, "No pleural effusion.", "Small pleural effusion."),
    )
    conditions = condition_matrix(frame, ["site", "age"], texts)
    target = (frame["site"] == "C").to_numpy() & device
    fit, confirm = np.arange(0, n, 2), np.arange(1, n, 2)
    # on the fitting rows only, the slice also holds a few site-B samples
    noisy = target.copy()
    noisy[fit[:40]] |= (frame["site"].to_numpy() == "B")[fit[:40]]
    rule = learn_rule(conditions, noisy, fit)
    assert set(rule.text.split(" AND ")) == {"site = C", 'report mentions "chest tube"'}
    assert rule.fit_recall < 1  # the site-B additions are not covered on the fitting rows
    precision, recall = rule_agreement(rule.mask(conditions), target, confirm)
    assert precision == 1.0 and recall == 1.0
    assert 'report negates "pleural effusion"' in conditions.labels


def test_a_rule_keeps_only_conditions_that_hold_on_rows_it_was_not_learned_on():
    # 60% of site C belong to the slice, plus 3% noise; twenty measures that mean nothing.
    # Greedy covering adds a cut of a noise measure, or a clause of three, for any F1 it
    # gains on its rows (10 of 12 seeds before rules were cross-validated); the rule a
    # reader is shown must be "site = C"
    texts, held_out = [], []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n = 300
        frame = pd.DataFrame({"site": rng.choice(list("ABCD"), n)})
        for k in range(20):
            frame[f"m{k}"] = rng.normal(size=n)
        target = (frame["site"] == "C").to_numpy() & (rng.random(n) < 0.6)
        target |= rng.random(n) < 0.03
        conditions = condition_matrix(frame)
        rule = learn_rule(conditions, target, np.arange(0, n, 2))
        texts.append(rule.text)
        precision, recall = rule_agreement(rule.mask(conditions), target, np.arange(1, n, 2))
        held_out.append(2 * precision * recall / (precision + recall))
    assert sum(text == "site = C" for text in texts) >= 11, texts
    assert np.mean(held_out) > 0.7  # 0.66 with the noise conditions


def test_two_cuts_of_one_measure_read_as_one_band():
    # a slice of one age band: the learner needs "age > a" and "age <= b"; the reader sees
    # one band of one measure, not two findings
    rng = np.random.default_rng(2)
    n = 600
    frame = pd.DataFrame({"age": rng.integers(20, 90, n), "site": rng.choice(list("AB"), n)})
    target = frame["age"].between(45, 60).to_numpy() & (frame["site"] == "A").to_numpy()
    conditions = condition_matrix(frame, ["age", "site"])
    rule = learn_rule(conditions, target)
    (clause,) = rule.clauses
    assert sorted(conditions.columns[j] for j in clause) == ["age", "age", "site"]
    assert rule.text.count("age") == 1, rule.text
    ages = frame["age"].to_numpy()
    in_band = re.search(r"(\S+) < age <= (\S+)", rule.text)
    band = (ages > float(in_band[1])) & (ages <= float(in_band[2]))
    assert (rule.mask(conditions) == band & (frame["site"] == "A").to_numpy()).all()


def test_no_planted_cause_means_no_confirmed_slice_in_nearly_every_seed():
    found = []
    for seed in range(20):
        audit, planted = single_cause_audit(600, 100 + seed, cause=False)
        assert not planted.any()
        report = discover_slices(audit, n_seeds=2, random_state=seed)
        found.append(report.n_slices)
    assert sum(count == 0 for count in found) >= 19, found


def test_fit_and_confirmation_splits_keep_each_patient_on_one_side():
    audit, _ = single_cause_audit(1000, 3)
    units, name = independent_units(audit)
    assert name == "patient_id"
    fit, confirm = split_by_unit(units, ~audit.correct, 0.5, random_state=1)
    assert not set(units[fit]) & set(units[confirm])
    assert len(fit) + len(confirm) == audit.n_samples
    report = discover_slices(audit, n_seeds=1)
    assert report.settings["unit"] == "patient_id" and report.settings["n_units"] == 500
    assert any("splits by patient_id" in note for note in report.notes)
    assert not any("splits by sample" in note for note in report.notes)
    # without the patient column every eye is its own unit, and the notes say so
    alone = discover_slices(replace(audit, metadata=audit.metadata.drop(columns="patient_id"),
                                    metadata_roles=None), n_seeds=1)  # fmt: skip
    assert any("each of the 1000 samples is its own unit" in note for note in alone.notes)


def test_corrupted_copies_of_one_image_are_one_unit_and_not_counted_as_many():
    from silentscope.audit import AuditSet
    from silentscope.slices.discover import _confirm, independent_units

    rng = np.random.default_rng(0)
    n = 200
    wrong = rng.random(n) < np.where(np.arange(n) < 50, 0.5, 0.1)
    label = rng.integers(0, 2, n)
    sets = ["iid", "cor/noise/1", "cor/noise/3"]
    ids = [f"im{i}" for i in range(n)]
    audit = AuditSet(
        sample_id=[i if s == "iid" else f"{s}:{i}" for s in sets for i in ids],
        test_set=np.repeat(sets, n), label=np.tile(label, 3),
        logits=np.tile(np.eye(2)[np.where(wrong, 1 - label, label)] * 3, (3, 1)),
        class_names=["a", "b"],
    )  # fmt: skip
    units, name = independent_units(audit)
    assert name == "source image" and len(set(units)) == n
    assert unit_note(name, n, 3 * n).startswith("fitting and confirmation splits by source image")
    # one row per unit: the note says that rows are taken as independent, and how to fix it
    iid_units, iid_name = independent_units(audit.select("iid"))
    alone = unit_note(iid_name, len(set(iid_units)), len(iid_units))
    assert "each of the 200 samples is its own unit" in alone
    assert "add the patient identifier" in alone
    member = np.tile(np.arange(n) < 50, 3)
    errors = ~audit.correct
    counted = _confirm(member, errors, units)
    naive = _confirm(member, errors)
    # the three copies fail together: they weigh as one image, not three
    assert counted["n_confirm"] == 150 and counted["units_confirm"] == 50
    assert abs(counted["effective_confirm"] - 50) < 1
    assert counted["p_value"] > naive["p_value"] * 100
    assert counted["ci_high"] - counted["ci_low"] > naive["ci_high"] - naive["ci_low"]


def test_failures_on_different_true_classes_stay_apart_though_they_share_a_condition():
    n = 400
    membership = np.zeros((n, 2), bool)
    membership[:50, 0] = membership[50:100, 1] = True
    errors = np.r_[np.ones(100, bool), np.arange(300) % 10 == 0]
    fit = np.arange(0, n, 2)
    signatures = {
        0: {"true class = cataract", "eye = right"},
        1: {"true class = glaucoma", "eye = right"},
    }
    assert [g.slices for g in consolidate([0, 1], membership, errors, fit, signatures)] == [
        [0],
        [1],
    ]
    signatures[1] = {"true class = cataract", "eye = right"}
    assert [g.slices for g in consolidate([0, 1], membership, errors, fit, signatures)] == [[0, 1]]


def _conjunction_inputs(seed, planted=True, n=1200, n_words=300):
    """A slice of 60 (an image artefact), half women; only the women fail, among 300 words."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i:03d}" for i in range(n_words)])
    texts = [" ".join(rng.choice(words, 6, replace=False)) + "." for _ in range(n)]
    frame = pd.DataFrame({"sex": np.where(np.arange(n) % 2 == 0, "F", "M")})
    artefact = np.arange(n) < 60
    women = (frame["sex"] == "F").to_numpy()
    errors = rng.random(n) < 0.05
    if planted:
        errors |= artefact & women & (rng.random(n) < 0.5)
    fit = rng.permutation(n)[: n // 2]
    return artefact, condition_matrix(frame, ["sex"], texts), errors, fit, women


def test_narrowing_tests_a_metadata_value_within_its_own_family_not_among_every_word():
    from silentscope.slices.consolidate import narrow
    from silentscope.slices.multiplicity import family_weights

    artefact, conditions, errors, fit, women = _conjunction_inputs(seed=0)
    assert len(conditions.labels) > 250  # the report's words outnumber the metadata values
    narrowed, added = narrow(artefact, conditions, errors, fit, min_support=10)
    assert added == ["sex = F"] and (narrowed == (artefact & women)).all()
    # the plain Bonferroni level over every condition would have kept the whole artefact
    p = _women_p_value(artefact, women, errors, fit)
    level = 0.05 * family_weights(conditions.columns)[list(conditions.labels).index("sex = F")]
    assert 0.05 / len(conditions.labels) < p < level


def _women_p_value(artefact, women, errors, fit):
    """One-sided Fisher p-value of the artefact's women failing more than its men (fitting)."""
    from scipy import stats

    in_fit = np.zeros(len(errors), bool)
    in_fit[fit] = True
    sub, rest = artefact & women & in_fit, artefact & ~women & in_fit
    table = [[errors[sub].sum(), (~errors[sub]).sum()], [errors[rest].sum(), (~errors[rest]).sum()]]
    return stats.fisher_exact(table, alternative="greater").pvalue


def _correlated_inputs(seed, planted=True, n=1600):
    """A slice of 200 (100 fitting members), half women; beside sex, age and eight image
    measures that move together (18 cuts each): only the women of the slice fail."""
    rng = np.random.default_rng(seed)
    tone = rng.normal(size=n)
    measures = {f"image measure {k}": tone + rng.normal(scale=0.3, size=n) for k in range(8)}
    frame = pd.DataFrame(
        {
            "sex": np.where(np.arange(n) % 2 == 0, "F", "M"),
            "age": rng.integers(20, 90, n).astype(float),
            **measures,
        }
    )
    artefact = np.arange(n) < 200
    women = (frame["sex"] == "F").to_numpy()
    errors = rng.random(n) < 0.06
    if planted:
        errors |= artefact & women & (rng.random(n) < 0.3)
    return artefact, condition_matrix(frame), errors, rng.permutation(n)[: n // 2], women


def test_narrowing_counts_cuts_that_select_the_same_samples_as_about_one_chance():
    """Min-p: the women's excess (p = 0.006) misses the Bonferroni level of 164 conditions
    in 10 families (0.0025) but is the strongest a permutation of the errors rarely beats."""
    from silentscope.slices.consolidate import narrow
    from silentscope.slices.multiplicity import family_weights

    artefact, conditions, errors, fit, women = _correlated_inputs(seed=26)
    narrowed, added = narrow(artefact, conditions, errors, fit, min_support=10)
    assert added == ["sex = F"] and (narrowed == (artefact & women)).all()
    p = _women_p_value(artefact, women, errors, fit)
    level = 0.05 * family_weights(conditions.columns)[list(conditions.labels).index("sex = F")]
    assert level < p < 0.05


def test_min_p_narrowing_stays_rare_when_nothing_is_planted():
    from silentscope.slices.consolidate import narrow

    narrowed = 0
    for seed in range(40):
        artefact, conditions, errors, fit, _ = _correlated_inputs(seed, planted=False)
        narrowed += bool(narrow(artefact, conditions, errors, fit, min_support=10)[1])
    assert narrowed <= 5  # family-wise level 0.05 per step: about 2 of 40 expected


def test_weighted_narrowing_stays_rare_when_nothing_is_planted():
    from silentscope.slices.consolidate import narrow

    narrowed = 0
    for seed in range(30):
        artefact, conditions, errors, fit, _ = _conjunction_inputs(seed, planted=False)
        narrowed += bool(narrow(artefact, conditions, errors, fit, min_support=10)[1])
    assert narrowed <= 3  # the family-wise level is 0.05: about 1.5 of 30 expected at most


def test_narrowing_keeps_working_when_the_rest_fails_a_little_above_the_outside():
    """The men of the artefact err 7% vs 6% outside: noise, which must not block narrowing."""
    from silentscope.slices.consolidate import narrow

    artefact, conditions, errors, fit, women = _conjunction_inputs(seed=3)
    in_fit = np.zeros(len(errors), bool)
    in_fit[fit] = True
    rest_rate = errors[artefact & ~women & in_fit].mean()
    assert rest_rate > errors[~artefact & in_fit].mean()  # a small excess outside the cause
    narrowed, added = narrow(artefact, conditions, errors, fit, min_support=10)
    assert added == ["sex = F"] and (narrowed == (artefact & women)).all()


def _haze_and_women(n=2000, seed=0, women_fail=True, rest_rate=0.12, held_out_signal=True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"sex": np.where(np.arange(n) % 2 == 0, "F", "M")})
    women = (frame["sex"] == "F").to_numpy()
    haze = np.arange(n) < 400
    split = rng.permutation(n)
    fit_rows, confirm_rows = split[: n // 2], split[n // 2 :]
    in_fit = np.zeros(n, bool)
    in_fit[fit_rows] = True
    part_rate = np.where(held_out_signal | in_fit, 0.5, rest_rate) if women_fail else rest_rate
    errors = rng.random(n) < np.where(haze & women, part_rate, np.where(haze, rest_rate, 0.04))
    return haze, women, condition_matrix(frame, ["sex"]), errors, fit_rows, confirm_rows


def test_the_part_that_fails_most_is_found_only_when_the_rest_fails_too():
    from silentscope.slices.consolidate import narrow, where_it_fails_most

    haze, women, conditions, errors, fit, held = _haze_and_women()
    part, condition, _ = where_it_fails_most(haze, conditions, errors, fit, held, min_support=10)
    assert condition == "sex = F" and (part == (haze & women)).all()
    assert narrow(haze, conditions, errors, fit, min_support=10)[1] == []  # nothing cut away
    # the rest fails like the outside: that is narrowing's case, not a second slice
    haze, women, conditions, errors, fit, held = _haze_and_women(rest_rate=0.04)
    assert where_it_fails_most(haze, conditions, errors, fit, held, min_support=10) is None
    assert narrow(haze, conditions, errors, fit, min_support=10)[1] == ["sex = F"]


def test_the_part_must_fail_more_on_the_held_out_split_too():
    from silentscope.slices.consolidate import where_it_fails_most

    # the women fail more in the fitting split only: chosen there, refused on held-out rows
    haze, _, conditions, errors, fit, held = _haze_and_women(seed=1, held_out_signal=False)
    assert where_it_fails_most(haze, conditions, errors, fit, held, min_support=10) is None


def _haze_women_and_a_chance_batch(seed=0):
    """Hazy women fail 50%, the other hazy images 12%; 16 hazy images of one batch fail on
    the fitting split only (a chance finding with a higher error rate there than the women)."""
    haze, women, _, errors, fit, held = _haze_and_women(seed=seed)
    n = len(errors)
    in_fit = np.zeros(n, bool)
    in_fit[fit] = True
    batch = np.zeros(n, bool)
    batch[np.flatnonzero(haze & ~women & in_fit)[:14]] = True
    batch[np.flatnonzero(haze & ~women & ~in_fit)[:14]] = True
    errors = errors.copy()
    errors[batch & in_fit] = True  # 14 of 14 on the fitting split
    errors[batch & ~in_fit] = np.arange((batch & ~in_fit).sum()) < 2  # 2 of 14 held out
    frame = pd.DataFrame(
        {"sex": np.where(women, "F", "M"), "batch": np.where(batch, "B7", "other")}
    )
    return haze, women, batch, condition_matrix(frame, ["sex", "batch"]), errors, fit, held


def test_the_held_out_split_decides_between_the_parts_the_fitting_split_proposes():
    """The chance batch outranks the women on the fitting split; held out, only the women
    fail more, and the part reported is theirs (one held-out test of the fitting split's
    first choice lost them: it went to the batch)."""
    from silentscope.slices.consolidate import candidate_parts, where_it_fails_most

    haze, women, batch, conditions, errors, fit, held = _haze_women_and_a_chance_batch()
    proposed = [str(conditions.labels[j]) for _, j in candidate_parts(
        haze, conditions, errors, fit, min_support=10)]  # fmt: skip
    assert proposed == ["batch = B7", "sex = F"]  # the batch first: 14 errors in 14
    part, condition, tested = where_it_fails_most(
        haze, conditions, errors, fit, held, min_support=10
    )
    assert condition == "sex = F" and (part == (haze & women)).all()
    assert tested == 2  # both candidates tested held out, each at 0.05 / 2


def test_parts_are_reported_at_about_the_chosen_level_when_none_fails_more():
    """Twelve meaningless yes/no columns and the whole haze failing alike: each of the
    candidates is tested held out at alpha / k, so a part is reported rarely."""
    from silentscope.slices.consolidate import candidate_parts, where_it_fails_most

    reported = proposed = 0
    for seed in range(40):
        haze, _, _, errors, fit, held = _haze_and_women(seed=seed, women_fail=False)
        rng = np.random.default_rng(100 + seed)
        frame = pd.DataFrame({f"c{k}": rng.choice(["x", "y"], len(errors)) for k in range(12)})
        conditions = condition_matrix(frame, list(frame.columns))
        proposed += bool(candidate_parts(haze, conditions, errors, fit, min_support=10))
        reported += (
            where_it_fails_most(haze, conditions, errors, fit, held, min_support=10) is not None
        )
    assert proposed >= 5  # the uncorrected fitting screen lets chance conditions through (8)
    assert reported <= 3  # about 0.05 x 40 = 2 expected at most


def _device_audit(seed=0):
    """A device (image features only) fails; its images of women fail most."""
    from silentscope.audit import AuditSet

    rng = np.random.default_rng(seed)
    n = 3000
    label = rng.integers(0, 2, n)
    device = rng.random(n) < 0.15
    sex = rng.choice(["F", "M"], n)
    features = rng.normal(size=(n, 8))
    features[:, 0] += np.where(label == 1, 4.0, -4.0)
    features[device, 3] += 6.0
    wrong = rng.random(n) < np.where(device, np.where(sex == "F", 0.5, 0.15), 0.04)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["a", "b"],
        features=features, metadata=pd.DataFrame({"sex": sex, "age": rng.integers(20, 90, n)}),
    )  # fmt: skip
    return audit, device, sex


def test_discovery_reports_the_worst_part_beside_its_slice_with_a_note():
    """A device (seen in the image features only) fails; its images of women fail most."""
    audit, device, sex = _device_audit()
    # the image features alone: the device is one component; sex is known to the rules only
    report = discover_slices(audit, n_seeds=2, modalities=["image"])
    notes = report.slices["consolidation"].astype(str)
    part = report.slices[notes.str.startswith("where a wider failing slice")]
    assert len(part) == 1 and "sex = F" in part["consolidation"].iloc[0]
    # the reader is told that the part was chosen on held-out samples, and among how many
    assert "tested on held-out samples)" in part["consolidation"].iloc[0]
    members = report.membership.loc[report.membership["rank"] == part["rank"].iloc[0], "sample_id"]
    chosen = np.isin(audit.sample_id, members)
    assert (sex[chosen] == "F").all() and device[chosen].mean() > 0.9
    # the device's slice itself is reported too, and the note names it by rank and size
    named = re.match(r"where a wider failing slice \(slice (\d+), (\d+) samples\)",
                     part["consolidation"].iloc[0])  # fmt: skip
    holder = report.slices[report.slices["rank"] == int(named[1])]
    assert len(holder) == 1 and holder["size"].iloc[0] == int(named[2])
    # the reader is told, in the CLI line, the markdown and the report's card

    note = part["consolidation"].iloc[0]
    assert note in str(report) and note in report.to_markdown()
    assert note.replace("%", "") in slices_html(report.slices).replace("%", "")


def test_a_part_is_never_listed_without_the_wider_slice_its_note_names():
    """The part fails most, so it ranks first; its note says that its wider slice is
    reported too. At two slices, the two are the part and its wider slice (the second
    best slice, a smaller one, used to take the place its note promised); at one, the part
    cannot be listed alone."""
    from silentscope.slices.result import PART_NOTE

    audit, device, _ = _device_audit()
    full = discover_slices(audit, n_seeds=2, modalities=["image"])
    notes = full.slices["consolidation"].astype(str)
    assert notes.iloc[0].startswith(PART_NOTE) and len(full.slices) >= 3
    named = r"where a wider failing slice \(slice (\d+), (\d+) samples\)"
    rank, wider = map(int, re.match(named, notes.iloc[0]).groups())
    assert full.slices["size"].iloc[rank - 1] == wider  # the note names its slice's rank
    assert full.slices["size"].iloc[1] != wider  # the second best is another slice
    two = discover_slices(audit, n_seeds=2, modalities=["image"], max_slices=2)
    note = two.slices["consolidation"].astype(str).iloc[0]
    assert note == re.sub(named, f"where a wider failing slice (slice 2, {wider} samples)",
                          notes.iloc[0])  # fmt: skip
    assert two.slices["size"].iloc[1] == wider
    one = discover_slices(audit, n_seeds=2, modalities=["image"], max_slices=1)
    assert one.n_slices == 1 and not str(one.slices["consolidation"].iloc[0]).startswith(PART_NOTE)


def test_a_part_inside_another_reported_slice_is_not_listed_again():
    """The part of a mixed slice that fails most is the failing class another slice
    already holds (a skin-lesion network that misses melanoma: melanoma read five times)."""
    from silentscope.slices.consolidate import Part
    from silentscope.slices.discover import _add_part

    n = 1000
    errors = np.arange(n) % 3 == 0
    cls = np.arange(n) < 200  # the failing class: a slice of its own
    mixed = (np.arange(n) >= 150) & (np.arange(n) < 400)
    record = {"consolidation": "", "size": 250, "ci_low": 0.3, "q_value": 0.01}
    holder = {"consolidation": "", "size": 200, "ci_low": 0.5, "slice": 3}
    shown = [(holder, cls, None), (record, mixed, None)]
    inside = Part(mixed & cls, "true class = melanoma", 2)  # 50 samples, all inside `cls`
    fit, held = np.arange(0, n, 2), np.arange(1, n, 2)
    _add_part(shown, 1, inside, errors, fit, held, None)
    assert len(shown) == 2  # not listed
    assert record["consolidation"] == (
        "where it fails most (true class = melanoma, 50 samples) lies within another "
        "confirmed slice (200 samples): not listed apart"
    )
    assert record["within"] == 3  # named by its rank once ranks are final
    outside = Part(mixed & ~cls, "site = C", 2)  # 200 samples, none inside `cls`
    _add_part(shown, 1, outside, errors, fit, held, None)
    assert len(shown) == 3 and shown[2][2] == 1 and (shown[2][1] == (mixed & ~cls)).all()


def _a_missed_class_and_a_device(seed):
    """The network misses melanoma (80% errors); device A's other images fail 30% (5% elsewhere)."""
    from silentscope.audit import AuditSet

    rng = np.random.default_rng(seed)
    n = 3000
    label = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    device = rng.choice(["A", "B", "C"], n, p=[0.25, 0.4, 0.35])
    rate = np.where(label == 2, 0.8, np.where(device == "A", 0.3, 0.05))
    wrong = rng.random(n) < rate
    predicted = np.where(wrong, np.where(label == 2, 0, (label + 1) % 2), label)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(3)[predicted] * rng.gamma(4.0, 0.6, n)[:, None],
        class_names=["nevus", "keratosis", "melanoma"],
        metadata=pd.DataFrame({"device": device, "age": rng.integers(20, 90, n)}),
    )  # fmt: skip
    return audit, device == "A"


def test_a_wider_failure_is_not_absorbed_into_a_slice_it_holds():
    """The device's melanomas fail most and rank first; the device's slice holds them (its
    overlap coefficient with them is 1) but most of it lies outside and fails on its own.
    It used to be absorbed as a repeat of them, and the device's failure vanished (seeds 1
    and 2); its melanomas are not listed again as its part (the melanoma slice holds them)."""
    for seed in range(3):
        audit, on_a = _a_missed_class_and_a_device(seed)
        report = discover_slices(audit, modalities=["metadata"], n_seeds=1)
        rules = report.slices["rule"].tolist()
        assert "device = A" in rules and "true class = melanoma" in rules, (seed, rules)
        row = report.slices[report.slices["rule"] == "device = A"].iloc[0]
        members = _members(report, audit, row["rank"])
        assert on_a[members].all() and members.sum() > 0.9 * on_a.sum()
        # the note names the listed slice that holds the part, and every card shows it
        held = report.slices[report.slices["rule"] == "true class = melanoma"].iloc[0]
        note = f"lies within slice {held['rank']} ({held['size']} samples): not listed apart"
        assert note in row["consolidation"], row["consolidation"]
        assert note in part_note(row) and note in str(report) and note in report.to_markdown()
        assert note in slices_html(report.slices)


def test_a_part_held_by_a_slice_beyond_the_list_says_so():
    """The note names the holder by its final rank; a holder that ``max_slices`` cut is
    said to be beyond the list, not sent for under a rank it does not have."""
    from silentscope.slices.discover import _name_holders

    note = "where it fails most (sex = F, 40 samples) lies within another confirmed slice (60 samples): not listed apart"
    rows = [
        {"rank": 1, "slice": 4, "consolidation": "2: overlap"},
        {"rank": 2, "slice": 7, "consolidation": note, "within": 4},
        {"rank": 3, "slice": 9, "consolidation": note, "within": 5},
    ]  # fmt: skip
    named = _name_holders([dict(row) for row in rows])
    assert named[1]["consolidation"] == note.replace("another confirmed slice", "slice 1")
    assert (
        "lies within a confirmed slice beyond the 3 listed (60 samples)"
        in (named[2]["consolidation"])
    )
    assert all("within" not in row for row in named)  # not a column of the table


def test_a_slice_that_took_a_part_names_the_wider_slice_by_rank():
    """ "(374 samples, also reported)" sent the reader counting sizes; the note names the
    wider slice's rank, says it was cut by ``max_slices``, or that it merged into this one."""
    from silentscope.slices.discover import _name_holders

    def joined(size):
        return (
            f"joined with where a wider slice ({size} samples, also reported) fails most: "
            "sex = F (the same failure, fitting split)"
        )

    rows = [
        {"rank": 1, "slice": 4, "consolidation": "narrowed; " + joined(300), "joined_from": [7]},
        {"rank": 2, "slice": 7, "consolidation": joined(200) + "; " + joined(90),
         "joined_from": [9, 7]},
        {"rank": 3, "slice": 8, "consolidation": "2: overlap"},
    ]  # fmt: skip
    named = _name_holders([dict(row) for row in rows])
    assert named[0]["consolidation"] == "narrowed; " + joined(300).replace(
        "(300 samples, also reported)", "(slice 2, 300 samples)"
    )
    text = named[1]["consolidation"]
    assert "wider slice (200 samples, beyond the 3 listed) fails most" in text
    assert "wider slice since merged into this one (90 samples) fails most" in text
    assert "also reported" not in text
    assert all("joined_from" not in row for row in named)  # not a column of the table


def test_slices_of_one_class_do_not_share_an_explanation_by_their_class_alone():
    from silentscope.slices.consolidate import _shared_explanation

    assert _shared_explanation({"true class = a", "sex = F"}, {"true class = a"}) == set()
    assert _shared_explanation({"true class = a", "site = C"}, {"site = C"}) == {"site = C"}


def test_the_part_that_fails_most_joins_another_slice_of_the_same_failure():
    """A haze read per predicted class: its women's part and the hazy women found elsewhere."""
    from silentscope.slices.consolidate import Consolidated
    from silentscope.slices.discover import _join_parts

    rng = np.random.default_rng(3)
    n = 6000
    label = rng.integers(0, 2, n)
    hazy = rng.random(n) < 0.16
    sex = rng.choice(["F", "M"], n)
    wrong = rng.random(n) < np.where(hazy, np.where(sex == "F", 0.5, 0.15), 0.04)
    frame = pd.DataFrame({"sex": sex, "lens": np.where(hazy, "fogged", "clear")})
    conditions = condition_matrix(frame, ["sex", "lens"])
    fit = np.flatnonzero(rng.random(n) < 0.5)
    hazy_one_class = hazy & (label == 1)  # the wider slice: its women fail most
    # the hazy women, found incompletely by another view: most of class 0, 60% of class 1
    some = rng.random(n) < np.where(label == 0, 0.9, 0.6)
    hazy_women_found = hazy & (sex == "F") & some
    groups = [Consolidated([0], hazy_one_class.copy()), Consolidated([1], hazy_women_found.copy())]
    joined = _join_parts(groups, conditions, wrong, fit, 20, 0.05, 0.5, 0)
    assert joined == {0}
    host = groups[1].mask
    planted = hazy & (sex == "F")
    assert (host & planted).sum() / (host | planted).sum() > 0.95  # every hazy woman, no one else
    assert "fails most: sex = F (the same failure" in "; ".join(groups[1].notes)
    assert groups[1].took_parts == [0]  # the report names slice 0 by its rank
    assert (groups[0].mask == hazy_one_class).all()  # the wider slice stays as it was
    # a host of another failure (the men of the haze) takes no part
    groups = [Consolidated([0], hazy_one_class.copy()), Consolidated([1], hazy & (sex == "M"))]
    assert _join_parts(groups, conditions, wrong, fit, 20, 0.05, 0.5, 0) == set()


def test_a_slice_widened_to_its_rule_is_narrowed_again_to_where_it_fails():
    """Blurred images fail only for men: a mixed candidate, widened to "blur = yes", is the men's.

    The candidate (60% of the blurred images of both sexes) is too small on the fitting
    split to be narrowed; its rule widens it to every blurred image, which gives the
    narrowing the power it lacked (benchmark ``odir/smear_male``: 392 blurred images
    reported where 154 men's fail).
    """
    from silentscope.slices.consolidate import Consolidated, narrow
    from silentscope.slices.discover import _refine

    rng = np.random.default_rng(1)
    n = 1600
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    blur = rng.random(n) < 0.16
    age = rng.integers(20, 90, n)
    errors = rng.random(n) < np.where(blur & (sex == "M"), 0.4, np.where(blur, 0.06, 0.05))
    frame = pd.DataFrame({"blur": np.where(blur, "yes", "no"), "sex": sex, "age": age})
    conditions = condition_matrix(frame, ["blur", "sex", "age"])
    fit = rng.permutation(n)[: n // 2]
    candidate = blur & (rng.random(n) < 0.6)
    assert narrow(candidate, conditions, errors, fit, min_support=20)[1] == []  # too few
    group = Consolidated(slices=[0], mask=candidate.copy())
    _refine(group, conditions, errors, fit, 20, 0.05, 0)
    assert (group.mask == (blur & (sex == "M"))).all()
    assert group.notes == [
        "widened to every sample with blur = yes (they fail alike, fitting split)",
        "then narrowed to sex = M (where it fails, fitting split)",
    ]


def test_a_slice_is_widened_by_its_rules_main_clause_not_by_every_clause():
    """A candidate mixing two causes that fail alike is not widened to both of them whole."""
    from silentscope.slices.consolidate import Consolidated
    from silentscope.slices.discover import _refine

    rng = np.random.default_rng(0)
    n = 3000
    device, site = rng.choice(list("ABC"), n), rng.choice(list("XYZ"), n)
    errors = rng.random(n) < np.where(device == "B", 0.4, np.where(site == "Y", 0.4, 0.04))
    conditions = condition_matrix(
        pd.DataFrame({"device": device, "site": site}), ["device", "site"]
    )
    fit = rng.permutation(n)[: n // 2]
    candidate = (device == "B") & (rng.random(n) < 0.7)
    candidate |= (site == "Y") & (device != "B") & (rng.random(n) < 0.6)
    rule = learn_rule(conditions, candidate, fit, random_state=0)
    assert rule.text == "device = B OR site = Y"  # the rule names both causes
    group = Consolidated(slices=[0], mask=candidate.copy())
    _refine(group, conditions, errors, fit, 20, 0.05, 0)
    added = group.mask & ~candidate
    assert (added == ((device == "B") & ~candidate)).all()  # the main cause, whole
    assert group.notes == [
        "widened to every sample with device = B (they fail alike, fitting split)"
    ]


def test_the_part_that_fails_most_is_widened_to_the_cause_its_rule_names():
    """Hazy images fail, the older patients' most: the slicer found the older ones' part.

    The rest of the hazy images (25% errors) never fail like that part (75%), but six
    times as often as the clear images (4%): the slice is widened to the haze, and its note
    says why. (In the benchmark, the slicer weighs the errors and finds the erring part of
    a haze whose labels are unreliable: 100% errors in the part, 45% in the haze.) Where
    only the hazy women fail, the hazy men (at the clear images' rate) stay out.
    """
    from silentscope.slices.consolidate import Consolidated
    from silentscope.slices.discover import _refine

    rng = np.random.default_rng(2)
    n = 4000
    hazy = rng.random(n) < 0.12
    sex, age = rng.choice(["F", "M"], n), rng.integers(20, 90, n)
    frame = pd.DataFrame({"lens": np.where(hazy, "fogged", "clear"), "sex": sex, "age": age})
    conditions = condition_matrix(frame, ["lens", "sex", "age"])
    fit = rng.permutation(n)[: n // 2]
    old = age > np.quantile(age, 0.5)
    errors = rng.random(n) < np.where(hazy, np.where(old, 0.75, 0.25), 0.04)
    group = Consolidated(slices=[0], mask=hazy & old)
    _refine(group, conditions, errors, fit, 20, 0.05, 0)
    assert (group.mask == hazy).all()
    assert group.notes == [
        "widened to every sample with lens = fogged (they fail 6 times as often as the samples "
        "outside, fitting split; the slice itself, chosen where the errors are, fails more)"
    ]
    # only the hazy women fail: the women's slice is not widened to the men
    errors = rng.random(n) < np.where(hazy & (sex == "F"), 0.45, 0.04)
    women = Consolidated(slices=[0], mask=hazy & (sex == "F"))
    _refine(women, conditions, errors, fit, 20, 0.05, 0)
    assert (women.mask == (hazy & (sex == "F"))).all() and women.notes == []


def test_conditions_of_rows_is_the_rows_matrix_built_once_per_mask():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"site": rng.choice(list("ABC"), 300), "sex": rng.choice(["F", "M"], 300)})
    conditions = condition_matrix(frame, ["site", "sex"])
    rows = rng.random(300) < 0.5
    built = conditions.of_rows(rows)
    expected = conditions.matrix.toarray()[rows].T.astype(float)
    np.testing.assert_array_equal(built.toarray(), expected)
    assert conditions.of_rows(rows.copy()) is built  # the same mask: not rebuilt
    other = conditions.of_rows(~rows)
    np.testing.assert_array_equal(other.toarray(), conditions.matrix.toarray()[~rows].T)


def test_a_slice_is_not_narrowed_to_the_class_its_network_does_not_predict():
    """Washed-out images read as left eyes: the right eyes among them are its errors (80%),
    the left eyes fail a little (10%, 5% outside). Narrowing to "true class = right" would
    make the cause its errors, chosen by what the network predicts; the cause stays whole."""
    from silentscope.slices.consolidate import narrow

    n = 1600
    rng = np.random.default_rng(4)
    right = np.arange(n) % 2 == 0
    frame = pd.DataFrame(
        {
            "true class": np.where(right, "right", "left"),
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(20, 90, n).astype(float),
        }
    )
    washed_out = np.arange(n) < 120
    errors = rng.random(n) < np.where(washed_out, np.where(right, 0.8, 0.1), 0.05)
    conditions = condition_matrix(frame)
    fit = rng.permutation(n)[: n // 2]
    narrowed, added = narrow(washed_out, conditions, errors, fit, min_support=10)
    assert added == [] and (narrowed == washed_out).all()
    # the same excess on a metadata value is still narrowed to (a condition that selects
    # the same samples as the class would be dropped as its duplicate: no class column here)
    frame["sex"] = np.where(right, "F", "M")
    narrowed, added = narrow(
        washed_out, condition_matrix(frame[["sex", "age"]]), errors, fit, min_support=10
    )
    assert added == ["sex = F"] and (narrowed == (washed_out & right)).all()


def _merged_part_and_cause(part_described, rest_rate, n=2000, seed=5):
    """Zoomed images (180; the first 30, all erring, found as a slice of their own) whose
    other members fail at ``rest_rate`` against 5% outside, merged: (merged, part, cause)."""
    from silentscope.slices.consolidate import Consolidated, merge_slices

    rng = np.random.default_rng(seed)
    cause, part = np.arange(n) < 180, np.arange(n) < 30
    errors = np.where(part, True, rng.random(n) < np.where(cause, rest_rate, 0.05))
    items = [
        Consolidated([0], part.copy(), described=part_described),
        Consolidated([1], cause.copy(), described=True),
    ]
    (merged,) = merge_slices(items, errors, np.arange(0, n, 2))
    return merged, part, cause


def test_a_described_cause_leads_the_undescribed_erring_part_it_holds():
    """The slicer weighs the errors: the zoomed images' erring part (100% errors, no rule
    describes it) is ranked first; the zoomed images, widened to their rule, fail 30%
    against 5% outside. The cause is reported, with the part absorbed into it."""
    merged, part, cause = _merged_part_and_cause(part_described=False, rest_rate=0.3)
    assert merged.slices == [1, 0] and (merged.mask == cause).all()
    # a part that a rule describes is a finding of its own, and so is the wider slice whose
    # other members fail six times as often as the outside: neither absorbs the other
    from silentscope.slices.consolidate import Consolidated, merge_slices

    rng = np.random.default_rng(5)
    errors = np.where(part, True, rng.random(2000) < np.where(cause, 0.3, 0.05))
    items = [
        Consolidated([0], part.copy(), described=True),
        Consolidated([1], cause.copy(), described=True),
    ]
    kept = merge_slices(items, errors, np.arange(0, 2000, 2))
    assert [(g.slices, int(g.mask.sum())) for g in kept] == [([0], 30), ([1], 180)]
    # and a wider slice whose other members fail little is no cause of the part
    merged, part, cause = _merged_part_and_cause(part_described=False, rest_rate=0.1)
    assert merged.slices == [0, 1] and (merged.mask == part).all()


def test_refinement_records_whether_a_rule_describes_the_slice():
    """The cause can lead its erring part only if discovery marks which slices a rule
    describes: a site's slice is described, a random draw of samples is not."""
    from silentscope.slices.consolidate import Consolidated
    from silentscope.slices.discover import _refine

    n = 1200
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"site": rng.choice(list("ABCD"), n), "age": rng.integers(20, 90, n)})
    conditions = condition_matrix(frame)
    site_c = (frame["site"] == "C").to_numpy()
    errors = rng.random(n) < np.where(site_c, 0.5, 0.05)
    fit = np.arange(0, n, 2)
    described = Consolidated([0], site_c.copy())
    scattered = Consolidated([1], rng.random(n) < 0.1)
    assert described.described is None  # unknown until a rule has been learned
    for group in (described, scattered):
        _refine(group, conditions, errors, fit, 20, 0.05, 0)
    assert described.described is True and scattered.described is False


def test_a_slice_inside_another_listed_slice_says_which_and_shows_other_images():
    """The melanomas under 70 (the part that fails most) lie within the melanoma slice: the
    card says so by rank, as every slice nested in a listed one does (a refined slice may
    end up inside another: on an 8-class fundus network "hypertensive retinopathy" lay
    within "cataract OR glaucoma"). And the two cards show different images: the nested
    slice's most confident errors used to be the wider slice's too."""
    from silentscope.slices.consolidate import UNION_CONTAINMENT

    audit, _ = _a_missed_class_and_a_device(0)
    report = discover_slices(audit, modalities=["metadata"], n_seeds=1)
    table = report.slices
    masks = {rank: _members(report, audit, rank) for rank in table["rank"]}
    for row in table.itertuples():
        own = masks[row.rank]
        holders = sorted(
            (int(m.sum()), r) for r, m in masks.items()
            if r != row.rank and m.sum() > own.sum() and (own & m).sum() >= UNION_CONTAINMENT * own.sum()
        )  # fmt: skip
        if not holders:
            assert row.nesting == ""
            continue
        size, rank = holders[0]
        inside = int((own & masks[rank]).sum())
        assert row.nesting == (
            f"{inside} of its {int(own.sum())} members lie within slice {rank} ({size} samples)"
        )
    nested = table[table["nesting"] != ""]
    assert len(nested) >= 1  # the melanoma part, at least
    note = nested["nesting"].iloc[0]
    assert note in str(report) and note in report.to_markdown() and note in slices_html(table)
    shown = [set(ids.split(",")) for ids in table["example_ids"]]
    for i, first in enumerate(shown):
        for second in shown[i + 1 :]:
            assert not first & second  # no image on two cards (every slice has others)


def test_a_slice_inside_a_wider_one_failing_no_more_is_absorbed_one_failing_more_stays():
    """DermaMNIST listed a 100-sample slice wholly inside a 208-sample one (79% against
    83% errors): a piece of that failure, not a finding. A nested slice that fails more
    than the rest of its holder is the part where it fails most, and stays."""
    from silentscope.slices.consolidate import Consolidated, absorb_nested

    n = 4000
    rows = np.arange(n)
    wide = rows < 400  # fails 55%
    piece = rows < 150  # inside it, fails less (35%)
    worse = (rows >= 200) & (rows < 300)  # inside it, fails 95%
    draw = np.random.default_rng(0).random(n)
    errors = draw < np.where(worse, 0.95, np.where(piece, 0.35, np.where(wide, 0.55, 0.05)))
    fit = np.flatnonzero(np.random.default_rng(1).random(n) < 0.5)
    groups = [Consolidated([5], piece.copy()), Consolidated([1], wide.copy()),
              Consolidated([7], worse.copy())]  # fmt: skip
    kept = absorb_nested(groups, errors, fit)
    assert [g.slices for g in kept] == [[1, 5], [7]]
    assert (kept[0].mask == wide).all()  # the wider slice keeps its own members
    assert kept[0].reasons[5] == "inside it, failing no more than the rest of it"


def test_a_nested_slice_failing_a_little_more_stays_though_no_test_could_show_it():
    """60% against the rest's 50% on 50 fitting members is no significant difference, but
    it is not "failing no more" either: a conjunction inside its carrier (grainy images of
    the over-60s inside every grainy image) looks like this, and absorbing it lost the
    development benchmark a near-perfect slice."""
    from silentscope.slices.consolidate import Consolidated, _fails_more, absorb_nested

    rows = np.arange(600)
    wide, slight = rows < 400, (rows >= 100) & (rows < 250)
    errors = np.where(slight, rows % 5 < 3, np.where(wide, rows % 2 == 0, rows % 20 == 0))
    fit = rows[rows % 3 == 0]
    fit_mask = np.isin(rows, fit)
    assert not _fails_more(slight, wide & ~slight, errors, fit_mask, 0.05)
    kept = absorb_nested(
        [Consolidated([0], wide.copy()), Consolidated([1], slight.copy())], errors, fit
    )
    assert [g.slices for g in kept] == [[0], [1]]


def test_a_rule_does_not_widen_a_slice_to_samples_that_look_otherwise():
    """A haze and cataract eyes are both blurred and both fail: "sharpness low" names both.

    The hazy slice's rule would take the cataract eyes too, two causes read as one
    (development benchmark, ``odir/conjunction/small`` draw 1: 148 hazy images and 55
    cataract eyes failing at 36%). In the appearance measures the haze is tight and the
    cataract eyes lie elsewhere: the slice stays the haze. Without the measures, or for a
    slice that looks like every image (a report's cause), the rule widens as before.
    """
    from silentscope.slices.consolidate import Consolidated
    from silentscope.slices.discover import _refine

    rng = np.random.default_rng(5)
    n = 3000
    hazy = rng.random(n) < 0.1
    cataract = ~hazy & (rng.random(n) < 0.05)
    looks = rng.normal(size=(n, 8))
    looks[hazy] = looks[hazy] * 0.2 + 2.5  # pale and soft, alike
    looks[cataract, :2] -= 3  # darker and yellower, otherwise like anyone
    blurred = np.where(hazy | cataract, "yes", "no")
    frame = pd.DataFrame({"blurred": blurred, "sex": rng.choice(["F", "M"], n)})
    conditions = condition_matrix(frame, ["blurred", "sex"])
    errors = rng.random(n) < np.where(hazy, 0.4, np.where(cataract, 0.4, 0.04))
    fit = rng.permutation(n)[: n // 2]
    found = hazy & (rng.random(n) < 0.9)

    alone = Consolidated(slices=[0], mask=found.copy())
    _refine(alone, conditions, errors, fit, 20, 0.05, 0, looks)
    assert not (alone.mask & cataract).any()
    widened = Consolidated(slices=[0], mask=found.copy())
    _refine(widened, conditions, errors, fit, 20, 0.05, 0)  # nothing to compare by
    assert (widened.mask == (hazy | cataract)).all()
    # a report's cause looks like every image: its rule widens it whatever the measures
    device = rng.random(n) < 0.1
    text = pd.DataFrame({"device": np.where(device, "B", "A"), "sex": frame["sex"]})
    errors = rng.random(n) < np.where(device, 0.4, 0.04)
    group = Consolidated(slices=[0], mask=device & (rng.random(n) < 0.6))
    _refine(group, condition_matrix(text, ["device", "sex"]), errors, fit, 20, 0.05, 0, looks)
    assert (group.mask == device).all()


def test_a_rule_widens_a_slice_to_the_same_artifact_where_its_members_are_not():
    """Glare found near the centre, and the same glare at the edge: the rule takes both.

    The edge glare differs from the slice in where the light falls (two measures far off),
    so it is no nearer the slice than an average image is; but it is nearer the slice than
    it is to an ordinary image, and the slice's rule (a bright spot) widens it to all the
    glare. Ordinary images that share the rule's measure by chance still stay out.
    """
    from silentscope.slices.consolidate import Consolidated, looks_alike
    from silentscope.slices.discover import _refine

    rng = np.random.default_rng(11)
    n = 3000
    glare = rng.random(n) < 0.1
    central = glare & (rng.random(n) < 0.6)
    looks = rng.normal(size=(n, 8))
    looks[glare] = looks[glare] * 0.2 + 2.5
    edge = glare & ~central
    looks[edge, :2] += 7  # the light falls elsewhere
    spot = np.where(glare, "yes", "no")
    frame = pd.DataFrame({"bright spot": spot, "sex": rng.choice(["F", "M"], n)})
    conditions = condition_matrix(frame, ["bright spot", "sex"])
    errors = rng.random(n) < np.where(glare, 0.4, 0.04)
    fit = rng.permutation(n)[: n // 2]

    centre = np.median(looks[central], axis=0)
    own = np.abs(looks[central] - centre).sum(axis=1).mean()
    every = np.abs(looks - centre).sum(axis=1).mean()
    near = np.abs(looks[edge] - centre).sum(axis=1).mean()
    assert near - own > 0.5 * (every - own)  # no nearer the slice than half the way
    assert looks_alike(looks, central, edge)
    group = Consolidated(slices=[0], mask=central.copy())
    _refine(group, conditions, errors, fit, 20, 0.05, 0, looks)
    assert (group.mask == glare).all()
    ordinary = ~glare & (rng.random(n) < 0.05)
    assert not looks_alike(looks, central, ordinary)
