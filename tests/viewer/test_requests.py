"""Malformed requests are a 400 with one sentence, never a 500 (a property over every API
route); bodies are bounded (413); the Host guard parses IPv6; what held stays tested."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from silentscope.viewer.bodies import MAX_BODY_BYTES
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.queries import pack_mask
from silentscope.viewer.server import create_app, serve

POST = {"X-Silentscope": "1"}


@pytest.fixture(scope="module")
def app_client(synthetic, tmp_path_factory):
    # a copy: the property test may save slices
    store = tmp_path_factory.mktemp("requests") / "store"
    shutil.copytree(synthetic[0], store)
    data = load_viewer_data(store)
    client = TestClient(
        create_app(data, warm_up_delay=60),
        base_url="http://127.0.0.1",
        raise_server_exceptions=False,
    )
    return client, data


def assert_answered(response) -> None:
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        message = response.json()["error"]
        assert isinstance(message, str) and message and "\n" not in message
        assert "Traceback" not in message


SEVEN = [
    ("/api/filter", b'{"filter": 5}', "field 'filter' must be an object"),
    ("/api/filter", b'{"filter":"[1,2]"}', "field 'filter' must be an object"),
    ("/api/filter", b"[" * 100_000, "nests too deeply"),
    ("/api/failures", b'{"k": 1e400}', "1e400 is not a finite number"),
    ("/api/failures", b'{"k": null, "csf": 3}', "field 'csf' must be the name"),
    ("/api/failures", b'{"csf":["MSR"]}', "field 'csf' must be the name"),
    ("/api/risk_coverage", b'{"csf":{"a":1}}', "field 'csf' must be the name"),
]


@pytest.mark.parametrize(("path", "body", "message"), SEVEN)
def test_the_seven_bodies_that_gave_500_are_400_with_a_sentence(app_client, path, body, message):
    client, _ = app_client
    response = client.post(path, content=body, headers=POST)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_a_null_k_takes_the_default_and_other_fields_are_checked(app_client):
    client, _ = app_client
    assert len(client.post("/api/failures", json={"k": None}, headers=POST).json()) >= 1
    for body, message in [
        ({"k": 0}, "field 'k' must be a whole number from 1 to 1000"),
        ({"k": True}, "field 'k'"),
        ({"k": 2.5}, "field 'k'"),
        ({"kk": 1}, "unknown field(s) ['kk']"),
        ({"filter": {"correctness": ["x"]}}, "filter field 'correctness' must be a name"),
        ({"filter": {"csf": 1}}, "filter field 'csf' must be a name"),
    ]:
        response = client.post("/api/failures", json=body, headers=POST)
        assert response.status_code == 400 and message in response.json()["error"], response.text
    mask = pack_mask(np.ones(1600, bool))
    response = client.post("/api/selection?filter=%5B1%5D", content=mask, headers=POST)
    assert response.status_code == 400 and "field 'filter'" in response.json()["error"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["MSR", "iid", "benign", "incorrect", "s00001"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["filter", "csf", "k", "test_sets", "classes", "predicted", "correctness",
             "confidence_min", "confidence_max", "x"]
        )
        | st.text(max_size=6),
        inner,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip
raw_bodies = (
    json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.sampled_from([b"1e400", b"NaN", b'{"k": -Infinity}', b"[" * 5000, b"\xff\xfe", b""])
)
POST_ROUTES = ["filter", "selection", "risk_coverage", "failures", "representatives", "slices"]
GET_ROUTES = [
    "/api/meta", "/api/column/{s}", "/api/column/x?rows={s}", "/api/drawn", "/api/sample/{i}",
    "/api/lookup?id={s}", "/api/thumbnail/{i}", "/api/slices", "/api/slice/{s}/{i}",
]  # fmt: skip
texts = st.text(max_size=20)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(POST_ROUTES),
    body=raw_bodies,
    query=st.dictionaries(
        st.sampled_from(["filter", "csf", "name", "overwrite"]), texts, max_size=3
    ),
)
def test_no_post_body_or_query_gives_a_500(app_client, route, body, query):
    client, _ = app_client
    assert_answered(client.post(f"/api/{route}", content=body, params=query, headers=POST))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    template=st.sampled_from(GET_ROUTES),
    text=texts,
    row=st.integers(min_value=0, max_value=10**25),
)
def test_no_get_request_gives_a_500(app_client, template, text, row):
    client, _ = app_client
    path = template.format(s=urllib.request.quote(text, safe=""), i=row)
    assert_answered(client.get(path))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(["filter", "csf"]), json_values.map(json.dumps), max_size=2
    )
)
def test_valid_masks_with_any_selection_query_never_give_a_500(app_client, query):
    client, data = app_client
    mask = pack_mask(np.arange(data.n_samples) % 3 == 0)
    assert_answered(client.post("/api/selection", content=mask, params=query, headers=POST))


def test_request_bodies_are_bounded(app_client):
    client, _ = app_client
    big = b" " * (MAX_BODY_BYTES + 1)
    response = client.post("/api/filter", content=big, headers=POST)
    assert (
        response.status_code == 413 and "larger than the viewer accepts" in response.json()["error"]
    )

    def chunks():  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    response = client.post("/api/filter", content=chunks(), headers=POST)
    assert response.status_code == 413
    # just below the limit is read (and answered on its merits)
    ok = client.post("/api/filter", content=b'{"filter": {}}' + b" " * 1000, headers=POST)
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("[::1]:8000", 200),
        ("[::1]", 200),
        ("attacker.example", 400),
        ("attacker.example:8000", 400),
        ("127.0.0.1.attacker.example", 400),
        ("[::1]x", 400),
        ("::1", 400),
        ("[::2]:80", 400),
        ("", 400),
    ],
)
def test_only_loopback_host_headers_are_answered(app_client, host, status):
    client, _ = app_client
    assert client.get("/api/slices", headers={"host": host}).status_code == status


def test_no_cors_and_posts_need_the_custom_header(app_client):
    client, _ = app_client
    response = client.get("/api/meta", headers={"Origin": "http://attacker.example"})
    assert not any(h.lower().startswith("access-control") for h in response.headers)
    preflight = client.options(
        "/api/filter",
        headers={"Origin": "http://attacker.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert client.post("/api/filter", json={}).status_code == 403


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_serving_on_ipv6_loopback_answers_its_own_url(synthetic_data):
    urls = []
    thread = threading.Thread(
        target=serve,
        args=(synthetic_data,),
        kwargs={"host": "::1", "open_browser": False, "on_ready": urls.append},
        daemon=True,
    )
    thread.start()
    for _ in range(200):
        if urls:
            break
        time.sleep(0.05)
    assert urls and urls[0].startswith("http://[::1]:")
    with urllib.request.urlopen(urls[0] + "api/slices", timeout=30) as response:
        assert response.status == 200  # urllib sends Host: [::1]:PORT
