"""Artifacts as one commit: readers see only published sets, a kill leaves the old or the new set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSetError, atomic
from silentscope.audit.artifacts import ARTIFACTS, INDEX
from silentscope.audit.store import (
    artifact_path,
    delete_artifacts,
    list_artifacts,
    load_audit,
    read_artifact,
    save_audit,
    write_artifact,
    write_artifacts,
)
from tests.support.audits import make_audit
from tests.support.killpoints import run_killed, steps

OLD = {
    "table": pd.DataFrame({"x": [1, 2, 3]}),
    "info": {"run": "old"},
    "coords": np.zeros(4),
    "dropped": {"only": "in the old set"},
}
NEW = {"table": pd.DataFrame({"x": [4, 5]}), "info": {"run": "new"}, "coords": np.ones(4)}


@pytest.fixture
def store(tmp_path):
    return save_audit(make_audit(n=40), tmp_path / "store")


def _canonical(value) -> str:
    """A value as canonical text (NaN equal to NaN, unlike Python lists of floats)."""
    if isinstance(value, pd.DataFrame):
        return value.to_json(orient="split")
    if isinstance(value, np.ndarray):
        return json.dumps(value.tolist())
    return json.dumps(value, sort_keys=True, default=str)


def _state(store) -> dict:
    """Every published artifact's value, as canonical text."""
    return {name: _canonical(read_artifact(store, name)) for name in list_artifacts(store)}


def _plain(values: dict) -> dict:
    return {name: _canonical(value) for name, value in values.items()}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftovers(store) -> list[str]:
    """Temporary entries and unpublished commit folders in the store's artifacts folder."""
    folder = store / ARTIFACTS
    named = {p.parent.name for p in (folder / n for n in _index_files(store))}
    return sorted(
        p.name
        for p in folder.iterdir()
        if ".tmp-" in p.name or (p.is_dir() and p.name not in named)
    )


def _index_files(store) -> list[str]:
    index = json.loads((store / ARTIFACTS / INDEX).read_text())
    return [entry["file"] for entry in index["artifacts"].values()]


# ---------------------------------------------------------------------- one commit
def test_a_commit_publishes_artifacts_together_and_drops_removed_ones(store):
    paths = write_artifacts(store, OLD)
    assert list_artifacts(store) == sorted(OLD)
    assert {p.parent for p in paths} == {paths[0].parent}  # one commit folder
    assert _state(store) == _plain(OLD)
    index = json.loads((store / ARTIFACTS / INDEX).read_text())
    entry = index["artifacts"]["table"]
    assert entry["bytes"] == artifact_path(store, "table").stat().st_size
    assert entry["sha256"] == atomic_sha256(artifact_path(store, "table"))

    write_artifacts(store, NEW, remove=["dropped"])
    assert _state(store) == _plain(NEW)
    # the superseded commit is gone: only the published files remain
    assert not paths[0].parent.exists()
    assert _leftovers(store) == []
    delete_artifacts(store, ["coords"])
    assert list_artifacts(store) == ["info", "table"]


def atomic_sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_readers_see_only_what_the_index_names(store):
    write_artifact(store, "info", {"run": "old"})
    # What a writer killed before publication leaves: a commit folder and a temporary one.
    unpublished = store / ARTIFACTS / "20260101T000000Z-0123abcd"
    unpublished.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(unpublished / "table.parquet")
    (unpublished / "info.json").write_text('{"run": "half"}')
    (store / ARTIFACTS / atomic.temporary_name("")).mkdir()
    assert list_artifacts(store) == ["info"]
    assert read_artifact(store, "info") == {"run": "old"}
    assert artifact_path(store, "table") is None
    with pytest.raises(FileNotFoundError, match="has no artifact 'table' \\(available: info\\)"):
        read_artifact(store, "table")
    write_artifact(store, "other", {"n": 1})  # the next write clears the unpublished folder
    assert not unpublished.exists()


def test_a_store_written_before_commits_is_read_and_taken_into_the_first_commit(store):
    folder = store / ARTIFACTS
    pd.DataFrame({"x": [1]}).to_parquet(folder / "slices.parquet")
    (folder / "evaluation.info.json").write_text('{"old": true}')
    assert list_artifacts(store) == ["evaluation.info", "slices"]
    assert read_artifact(store, "evaluation.info") == {"old": True}

    write_artifact(store, "evaluation.info", {"old": False})
    assert read_artifact(store, "evaluation.info") == {"old": False}
    assert read_artifact(store, "slices")["x"].tolist() == [1]  # kept where it was
    assert (folder / "slices.parquet").is_file()
    assert not (folder / "evaluation.info.json").exists()  # superseded, removed


def test_an_index_naming_a_file_outside_the_artifacts_folder_is_refused(store, tmp_path):
    write_artifact(store, "info", {"run": "old"})
    outside = tmp_path / "secret.json"
    outside.write_text('{"secret": 1}')
    index_path = store / ARTIFACTS / INDEX
    for file in ("../../secret.json", str(outside), "a/b/c.json", ".."):
        index = json.loads(index_path.read_text())
        index["artifacts"]["info"]["file"] = file
        index_path.write_text(json.dumps(index))
        with pytest.raises(AuditSetError, match="names a file outside"):
            read_artifact(store, "info")


def test_an_artifact_changed_after_its_commit_is_an_error_not_a_result(store):
    write_artifacts(store, {"info": {"auroc": 0.91}, "table": pd.DataFrame({"x": [1, 2]})})
    path = artifact_path(store, "info")
    path.write_text(path.read_text().replace("0.91", "0.99"))  # same size
    with pytest.raises(AuditSetError, match="'info' of .* does not match the checksum"):
        read_artifact(store, "info")
    assert read_artifact(store, "info", verify=False) == {"auroc": 0.99}
    table = artifact_path(store, "table")
    table.write_bytes(table.read_bytes()[:-10])
    with pytest.raises(AuditSetError, match="'table' of .* bytes but its commit recorded"):
        read_artifact(store, "table")


def test_store_verify_checks_the_artifacts_too(store):
    from silentscope.audit.integrity import verify_store

    write_artifacts(store, {"info": {"auroc": 0.91}})
    assert "artifacts/info" in verify_store(store)
    path = artifact_path(store, "info")
    path.write_text(path.read_text().replace("0.91", "0.99"))
    with pytest.raises(AuditSetError, match="'info' of .* does not match the checksum"):
        verify_store(store)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="'info' of .* is missing its file"):
        verify_store(store)


def test_concurrent_writers_keep_each_others_commits(store):
    code = (
        "import sys\n"
        "from silentscope.audit.store import write_artifact\n"
        "for i in range(15):\n"
        "    write_artifact(sys.argv[1], f'{sys.argv[2]}{i}', {'i': i})\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", code, str(store), prefix]) for prefix in "ab"
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert list_artifacts(store) == sorted(f"{p}{i}" for p in "ab" for i in range(15))
    assert read_artifact(store, "b14") == {"i": 14}
    assert _leftovers(store) == []


def test_invalid_names_and_values_fail_before_anything_is_written(store):
    write_artifact(store, "info", {"run": "old"})
    before = sorted(p.name for p in (store / ARTIFACTS).iterdir())
    with pytest.raises(ValueError, match="artifact name '../x' may only hold"):
        write_artifacts(store, {"fine": {"a": 1}, "../x": {"a": 1}})
    with pytest.raises(TypeError, match="artifact 'bad' must be a DataFrame, an array or a dict"):
        write_artifacts(store, {"fine": {"a": 1}, "bad": [1, 2]})
    assert sorted(p.name for p in (store / ARTIFACTS).iterdir()) == before
    assert list_artifacts(store) == ["info"]


# ---------------------------------------------------------------------- stale temporaries
def test_the_next_write_removes_temporaries_of_dead_writers_and_old_ones_only(store):
    folder = store / ARTIFACTS
    write_artifact(store, "info", {"run": "old"})
    dead, live = _dead_pid(), os.getpid()
    host = atomic._HOST
    dead_commit = folder / f".tmp-{host}-{dead}-0123abcd"
    live_commit = folder / f".tmp-{host}-{live}-0123abcd"
    other_host = folder / f".tmp-elsewhere-{dead}-0123abcd"  # its writer cannot be asked
    old_style_recent = folder / ".evaluation.parquet.tmp-89abcdef"  # silentscope < commits
    old_style_old = folder / ".slices.parquet.tmp-fedcba98"
    for path in (dead_commit, live_commit, other_host):
        path.mkdir()
        (path / "evaluation.parquet").write_bytes(b"x" * 1000)
    for path in (old_style_recent, old_style_old):
        path.write_bytes(b"x" * 1000)
    hours_ago = time.time() - 2 * atomic.STALE_AFTER_S
    os.utime(old_style_old, (hours_ago, hours_ago))
    # Beside the store: what a killed `silentscope import` of it leaves.
    killed_import = store.parent / f".store.tmp-{host}-{dead}-0123abcd"
    killed_import.mkdir()
    (killed_import / "logits.npy").write_bytes(b"x" * 1000)
    other_store = store.parent / f".other.tmp-{host}-{dead}-0123abcd"
    other_store.mkdir()
    killed_roles = store / f".manifest.json.tmp-{host}-{dead}-0123abcd"  # set_metadata_roles
    killed_roles.write_text("{")

    write_artifact(store, "info", {"run": "new"})
    assert not dead_commit.exists() and not old_style_old.exists() and not killed_import.exists()
    assert not killed_roles.exists()
    assert live_commit.exists() and other_host.exists() and old_style_recent.exists()
    assert other_store.exists()  # another store's business
    os.utime(other_host, (hours_ago, hours_ago))
    write_artifact(store, "info", {"run": "newer"})
    assert not other_host.exists()
    assert read_artifact(store, "info") == {"run": "newer"}


def test_save_audit_removes_its_own_dead_temporaries_but_never_the_only_old_copy(tmp_path):
    host, dead = atomic._HOST, _dead_pid()
    killed = tmp_path / f".store.tmp-{host}-{dead}-0123abcd"
    killed.mkdir()
    # The old store moved aside by a writer killed before the new one took its place (where
    # the system cannot swap folders in one step): the only copy of the old store.
    moved_aside = tmp_path / f".store.old.tmp-{host}-{dead}-0123abcd"
    moved_aside.mkdir()
    save_audit(make_audit(n=20), tmp_path / "store")
    assert not killed.exists()
    assert moved_aside.exists()  # the store did not exist: kept for the user to recover
    save_audit(make_audit(n=20), tmp_path / "store", overwrite=True)
    assert not moved_aside.exists()  # the store exists now: the aside copy is stale


# ---------------------------------------------------------------------- SIGKILL
def _kill_everywhere(root, code_or_args, tmp_path, prepare, check, points=None, done_state=None):
    """Run the writer once to log its steps, then kill it before each chosen step."""
    args = ["--python", code_or_args] if isinstance(code_or_args, str) else code_or_args
    log = tmp_path / "steps.json"
    prepare()
    done = run_killed(root, 0, args, log)
    assert done.returncode == 0, done.stderr[-2000:]
    if done_state is not None:
        done_state()
    logged = steps(log)
    assert logged, "the writer changed nothing under the store"
    outcomes = []
    for k in points(logged) if points else range(1, len(logged) + 1):
        prepare()
        killed = run_killed(root, k, args, log)
        assert killed.returncode == -9, (k, logged[k - 1], killed.stderr[-2000:])
        outcomes.append(check(k, logged[k - 1]))
    return logged, outcomes


def test_write_artifacts_killed_at_every_step_leaves_the_old_set_or_the_new_set(store, tmp_path):
    write_artifacts(store, OLD)
    pristine = tmp_path / "pristine"
    shutil.copytree(store, pristine)
    code = (
        "import numpy as np, pandas as pd\n"
        "from silentscope.audit.store import write_artifacts\n"
        f"write_artifacts({str(store)!r}, {{'table': pd.DataFrame({{'x': [4, 5]}}), "
        "'info': {'run': 'new'}, 'coords': np.ones(4)}, remove=['dropped'])\n"
    )

    def prepare():
        shutil.rmtree(store)
        shutil.copytree(pristine, store)

    def check(k, step):
        state = _state(store)
        assert state in (_plain(OLD), _plain(NEW)), (k, step, state)
        load_audit(store)  # the store itself is untouched
        return "old" if state == _plain(OLD) else "new"

    logged, outcomes = _kill_everywhere(store, code, tmp_path, prepare, check)
    # The publication is the replacement of the index: before it the old set, after it the new.
    publish = next(
        i for i, (event, path) in enumerate(logged) if event == "os.rename" and INDEX in path
    )
    assert outcomes == ["old"] * (publish + 1) + ["new"] * (len(logged) - publish - 1)
    # Whatever the kill left behind, the next write removes it.
    prepare()
    run_killed(store, publish, ["--python", code], tmp_path / "log.json")
    assert _leftovers(store)
    write_artifact(store, "info", {"run": "after"})
    assert _leftovers(store) == []


@pytest.mark.parametrize(
    "every", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["chosen", "every"]
)
def test_save_audit_killed_while_it_writes_leaves_a_loadable_old_or_new_store(tmp_path, every):
    store = tmp_path / "store"
    old, new = make_audit(n=30, seed=1), make_audit(n=50, seed=2)
    code = (
        "from tests.support.audits import make_audit\n"
        "from silentscope.audit.store import save_audit\n"
        f"save_audit(make_audit(n=50, seed=2), {str(store)!r}, overwrite=True)\n"
    )
    seen_leftover = []

    def prepare():
        for path in tmp_path.iterdir():
            if path.name.startswith((".store", "store")):
                shutil.rmtree(path)
        save_audit(old, store)
        write_artifact(store, "info", {"run": "old"})

    def check(k, step):
        loaded = load_audit(store)
        assert loaded.n_samples in (old.n_samples, new.n_samples), (k, step)
        seen_leftover.extend(p for p in tmp_path.iterdir() if p.name.startswith(".store."))
        return loaded.n_samples

    env_root = tmp_path  # the temporary folder is a sibling of the store

    def points(logged):
        return sorted({1, 3, len(logged) // 2, len(logged)})

    _, outcomes = _kill_everywhere(
        env_root, code, tmp_path, prepare, check, None if every else points
    )
    assert outcomes[0] == old.n_samples and outcomes[-1] == new.n_samples
    # A killed write leaves its temporary folder; the next write of the store removes it.
    assert seen_leftover
    prepare()
    run_killed(env_root, 3, ["--python", code], tmp_path / "log.json")
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".store.tmp-")]
    assert left
    write_artifact(store, "info", {"run": "after"})
    assert not any(p.exists() for p in left)


def _around_publication(logged):
    """Kill just before the index is replaced (old set) and just after (new set)."""
    publish = next(
        i for i, (event, path) in enumerate(logged) if event == "os.rename" and INDEX in path
    )
    return [publish + 1, publish + 2][: len(logged) - publish]


@pytest.mark.filterwarnings("ignore::silentscope.audit.health.DegenerateModelWarning")
@pytest.mark.parametrize(
    "every", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["chosen", "every"]
)
def test_evaluate_killed_in_its_write_phase_leaves_the_old_or_the_new_results(
    store, tmp_path, every
):
    from silentscope.evaluation import evaluate, save_evaluation

    names = ("evaluation", "evaluation.classification", "evaluation.info")
    audit = load_audit(store)
    save_evaluation(evaluate(audit, csfs=["MSR"], n_bootstrap=0, test_sets=["iid"]), store)
    old = {name: _state(store)[name] for name in names}
    pristine = tmp_path / "pristine"
    shutil.copytree(store, pristine)
    args = ["evaluate", str(store), "--csf", "MSR", "--csf", "PE", "--bootstrap", "0"]

    def prepare():
        shutil.rmtree(store)
        shutil.copytree(pristine, store)

    new = {}

    def check(k, step):
        state = _state(store)
        load_audit(store)
        return {name: state.get(name) for name in names}

    def done_state():
        new.update(check(0, None))

    _, outcomes = _kill_everywhere(
        store, args, tmp_path, prepare, check, None if every else _around_publication, done_state
    )
    assert all(old[name] != new[name] for name in names)  # every file differs
    assert all(outcome in (old, new) for outcome in outcomes), outcomes
    assert old in outcomes and new in outcomes


@pytest.mark.parametrize(
    "every", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["chosen", "every"]
)
def test_the_viewer_cache_killed_while_written_is_the_old_pair_or_the_new_pair(
    store, tmp_path, every
):
    from silentscope.viewer.embedding import cached_embedding

    code = (
        "from silentscope.viewer.embedding import ensure_embedding\n"
        f"ensure_embedding({str(store)!r}, method='pca', recompute=True)\n"
    )
    n = load_audit(store).n_samples
    old_coords = pd.DataFrame({"sample_id": load_audit(store).sample_id, "x": 0.0, "y": 0.0})
    pristine = tmp_path / "pristine"
    write_artifacts(store, {"embedding": old_coords, "embedding_info": {"method": "old"}})
    shutil.copytree(store, pristine)

    def prepare():
        shutil.rmtree(store)
        shutil.copytree(pristine, store)

    def check(k, step):
        coords, info = cached_embedding(store)
        assert len(coords) == n
        moved = bool(np.abs(coords[["x", "y"]].to_numpy()).sum() > 0)
        assert (info["method"], moved) in (("old", False), ("pca", True)), (k, step, info)
        return info["method"]

    _, outcomes = _kill_everywhere(
        store, code, tmp_path, prepare, check, None if every else _around_publication
    )
    assert set(outcomes) == {"old", "pca"}
