"""The viewer's API server: HTTP routes only, over :mod:`silentscope.viewer.queries`.

What the routes answer is computed elsewhere: the page's metadata, columns as bytes and the
drawn rows in :mod:`silentscope.viewer.payloads`, saving a person's slice in
:mod:`silentscope.viewer.user_slices`.

Columns travel as raw little-endian typed arrays (``X-Dtype`` header), row sets as bit
masks (one bit per sample), everything else as JSON. Above ``max_drawn`` samples the page
draws a stratified subsample (:func:`~silentscope.viewer.sampling.drawn_rows`, served at
``/api/drawn``; ``/api/column/KEY?rows=drawn`` gives a column for those rows only), while
filters, lasso hit-testing and statistics use every sample. The server listens on 127.0.0.1
unless told otherwise, accepts only loopback ``Host`` headers there (against DNS
rebinding; :mod:`silentscope.viewer.guards`), and state-changing requests must carry the
``X-Silentscope`` header, which a cross-site form cannot send. Request bodies are bounded
(413 above :data:`~silentscope.viewer.bodies.MAX_BODY_BYTES`) and checked field by field in
:mod:`silentscope.viewer.bodies`: malformed input is a 400 with one sentence, never a 500.
"""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from silentscope.viewer.bodies import MAX_BODY_BYTES, query_filter, route_body
from silentscope.viewer.guards import BodyLimit, BodyTooLarge, HostGuard
from silentscope.viewer.sampling import DEFAULT_MAX_DRAWN

# What the routes compute (pyarrow, the queries, the store) is imported by create_app: the
# socket listens and the page is served before those imports, so the first answer is fast.
if TYPE_CHECKING:
    from silentscope.viewer.data import ViewerData
    from silentscope.viewer.startup import Preparation
    from silentscope.viewer.thumbnails import ThumbnailCache

STATIC = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CSRF_HEADER = "x-silentscope"


async def index(request: Request) -> FileResponse:
    """The page itself, never cached (its script names change with each build)."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def progress_of(preparation: Preparation | None) -> dict:
    """What ``/api/progress`` answers: the preparation's state, or all ready without one."""
    if preparation is None:
        return {
            "stage": "ready",
            "fraction": 1.0,
            "layout": "final",
            "layout_version": 0,
            "error": None,
        }
    return preparation.snapshot()


async def _http_error(request: Request, exc) -> JSONResponse:
    # Unknown paths and methods answer like the routes do: JSON with one sentence.
    what = "no such page or API route" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(
        {"error": f"{what}: {request.method} {request.url.path}"}, status_code=exc.status_code
    )


_HTTP_ERRORS = {404: _http_error, 405: _http_error}


def create_app(
    data: ViewerData,
    allowed_hosts=LOOPBACK_HOSTS,
    thumbnails: ThumbnailCache | None = None,
    warm_up_delay: float = 1.5,
    max_drawn: int = DEFAULT_MAX_DRAWN,
    max_body_bytes: int = MAX_BODY_BYTES,
    preparation: Preparation | None = None,
) -> Starlette:
    """The viewer's ASGI app for ``data``.

    Parameters
    ----------
    data : ViewerData
    allowed_hosts : sequence of str, default loopback names
        Accepted ``Host`` headers (``["*"]`` when serving on another interface).
    thumbnails : ThumbnailCache, optional
    warm_up_delay : float, default=1.5
        Seconds before the lazily read columns and the report terms are prepared in the background.
    max_drawn : int, default=50_000
        Above this many samples the page draws a stratified subsample of this size.
    max_body_bytes : int, default=10 MiB
        Larger request bodies are refused with HTTP 413.
    preparation : Preparation, optional
        Answers ``/api/progress`` (the layout's state, see :mod:`silentscope.viewer.startup`);
        default: everything ready.
    """
    from silentscope.viewer import queries
    from silentscope.viewer.payloads import column_bytes, drawn, meta, slice_list
    from silentscope.viewer.thumbnails import ThumbnailCache, ThumbnailUnavailable
    from silentscope.viewer.user_slices import save_slice

    if int(max_drawn) < 1:
        raise ValueError(f"max_drawn must be a positive number of points, got {max_drawn}")
    thumbnails = thumbnails or ThumbnailCache(data)
    write_lock = threading.Lock()

    def warm_up() -> None:
        # After the first paint has had the CPU: read ids, reports and image references, and
        # extract the report terms, so that the first hover and selection need not wait.
        queries.ranking(data, None)
        data.load_strings()
        if data.has_text:
            queries.term_index(data, wait=False)

    warm = threading.Timer(warm_up_delay, warm_up)
    warm.daemon = True
    warm.start()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def guarded(handler):
        async def endpoint(request: Request):
            if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
                return error(403, f"state-changing requests need the {CSRF_HEADER} header")
            try:
                return await handler(request)
            except (IndexError, KeyError, ThumbnailUnavailable) as exc:
                return error(404, str(exc.args[0]) if exc.args else "not found")
            except FileExistsError as exc:
                return error(409, str(exc))
            except ValueError as exc:  # bodies.py turns every malformed input into one
                return error(400, str(exc))
            except BodyTooLarge:
                return error(
                    413,
                    f"the request body is larger than the viewer accepts ({max_body_bytes:,} bytes)",
                )

        return endpoint

    async def body_json(request: Request, route: str) -> dict:
        return route_body(route, await request.body())

    def filter_from(value: dict | None) -> np.ndarray:
        return queries.filter_mask(data, value)

    async def get_progress(request: Request):
        return JSONResponse(progress_of(preparation))

    async def get_meta(request: Request):
        return JSONResponse(meta(data, max_drawn))

    async def get_column(request: Request):
        subset = request.query_params.get("rows")
        if subset not in (None, "all", "drawn"):
            raise ValueError(f"rows must be 'all' or 'drawn', got {subset!r}")
        rows = drawn(data, max_drawn) if subset == "drawn" else None
        payload, dtype = column_bytes(data, request.path_params["key"], rows)
        return Response(payload, media_type="application/octet-stream", headers={"X-Dtype": dtype})

    async def get_drawn(request: Request):
        payload = drawn(data, max_drawn).astype("<u4").tobytes()
        return Response(
            payload, media_type="application/octet-stream", headers={"X-Dtype": "uint32"}
        )

    async def post_filter(request: Request):
        spec = await body_json(request, "filter")
        mask = await run_in_threadpool(filter_from, spec["filter"])
        return Response(
            queries.pack_mask(mask),
            media_type="application/octet-stream",
            headers={"X-Count": str(int(mask.sum()))},
        )

    async def post_selection(request: Request):
        selected = queries.unpack_mask(await request.body(), data.n_samples)
        within = filter_from(query_filter(request.query_params.get("filter")))
        csf = request.query_params.get("csf") or None
        stats = await run_in_threadpool(
            queries.selection_stats, data, selected, within, csf, 40, False
        )
        return JSONResponse(stats)

    async def post_risk_coverage(request: Request):
        spec = await body_json(request, "risk_coverage")
        mask = filter_from(spec["filter"])
        return JSONResponse(await run_in_threadpool(queries.risk_coverage, data, mask, spec["csf"]))

    async def post_failures(request: Request):
        spec = await body_json(request, "failures")
        mask = filter_from(spec["filter"])
        return JSONResponse(
            await run_in_threadpool(queries.confident_failures, data, mask, spec["csf"], spec["k"])
        )

    async def post_representatives(request: Request):
        spec = await body_json(request, "representatives")
        mask = filter_from(spec["filter"])
        return JSONResponse(await run_in_threadpool(queries.representatives, data, mask, spec["k"]))

    async def get_sample(request: Request):
        return JSONResponse(data.sample(request.path_params["row"]))

    async def get_lookup(request: Request):
        return JSONResponse({"row": data.row_of(request.query_params.get("id", ""))})

    async def get_thumbnail(request: Request):
        png = await run_in_threadpool(thumbnails.get, request.path_params["row"])
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    async def get_slices(request: Request):
        return JSONResponse(slice_list(data))

    async def get_slice_rows(request: Request):
        source = request.path_params["source"]
        if source not in data.slices:
            raise KeyError(f"no {source!r} slices in this store")
        slice_set = data.slices[source]
        index = request.path_params["index"]
        if not 0 <= index < len(slice_set.rows):
            raise IndexError(f"no slice {index} among the {source} slices")
        mask = np.zeros(data.n_samples, dtype=bool)
        mask[slice_set.rows[index]] = True
        return Response(queries.pack_mask(mask), media_type="application/octet-stream")

    async def post_slice(request: Request):
        mask = queries.unpack_mask(await request.body(), data.n_samples)
        name = request.query_params.get("name", "")
        overwrite = request.query_params.get("overwrite") == "1"

        def save():
            with write_lock:
                return save_slice(data, name, mask, overwrite)

        return JSONResponse(await run_in_threadpool(save))

    routes = [
        Route("/", index),
        Route("/api/meta", guarded(get_meta)),
        Route("/api/progress", guarded(get_progress)),
        # a path, not a str: column names may hold a slash (a user's "site/scanner")
        Route("/api/column/{key:path}", guarded(get_column)),
        Route("/api/drawn", guarded(get_drawn)),
        Route("/api/filter", guarded(post_filter), methods=["POST"]),
        Route("/api/selection", guarded(post_selection), methods=["POST"]),
        Route("/api/risk_coverage", guarded(post_risk_coverage), methods=["POST"]),
        Route("/api/failures", guarded(post_failures), methods=["POST"]),
        Route("/api/representatives", guarded(post_representatives), methods=["POST"]),
        Route("/api/sample/{row:int}", guarded(get_sample)),
        Route("/api/lookup", guarded(get_lookup)),
        Route("/api/thumbnail/{row:int}", guarded(get_thumbnail)),
        Route("/api/slices", guarded(get_slices)),
        Route("/api/slices", guarded(post_slice), methods=["POST"]),
        Route("/api/slice/{source:str}/{index:int}", guarded(get_slice_rows)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(HostGuard, allowed=list(allowed_hosts)),
        Middleware(BodyLimit, max_bytes=max_body_bytes),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=_HTTP_ERRORS)


class DeferredApp:
    """The viewer's ASGI app while its data loads: the page at once, the API once loaded.

    The browser fetches the page and its script and sets up WebGL (slow in software) while
    the store is read, instead of after. API requests wait for the data; if loading fails
    they answer 500 with the error, and :attr:`error` holds it.

    Parameters
    ----------
    load : callable
        Returns the :class:`ViewerData`; called by :meth:`start` in a background thread.
    allowed_hosts : sequence of str, default loopback names
    max_drawn : int, default=50_000
    on_error : callable, optional
        Called with the exception if ``load`` fails (e.g. to stop the server).

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> def load():
    ...     raise ValueError("no store here")
    >>> app = DeferredApp(load)
    >>> app.start().join()
    >>> client = TestClient(app, base_url="http://127.0.0.1")
    >>> client.get("/").status_code, client.get("/api/meta").json()
    (200, {'error': 'the viewer could not load its data: no store here'})
    """

    def __init__(
        self,
        load,
        allowed_hosts=LOOPBACK_HOSTS,
        max_drawn=DEFAULT_MAX_DRAWN,
        on_error=None,
        preparation: Preparation | None = None,
    ):
        self._load = load
        self._build = lambda data: create_app(
            data, allowed_hosts=allowed_hosts, max_drawn=max_drawn, preparation=preparation
        )
        self.preparation = preparation
        self._on_error = on_error
        self._max_drawn = max_drawn
        self._loaded = threading.Event()
        self.app: Starlette | None = None
        self.error: BaseException | None = None

        async def loading_progress(request: Request):
            # Answered while the store loads, so the page can say what it is waiting for.
            state = progress_of(preparation)
            if preparation is None:
                state.update(stage="reading the store", fraction=0.0, layout="none")
            return JSONResponse(state)

        self._page = Starlette(
            routes=[
                Route("/", index),
                Route("/api/progress", loading_progress),
                Mount("/static", StaticFiles(directory=STATIC)),
            ],
            middleware=[Middleware(HostGuard, allowed=list(allowed_hosts))],
        )

    def start(self) -> threading.Thread:
        """Load the data in a background thread (returned, already started)."""
        thread = threading.Thread(target=self._run, name="silentscope-viewer-load", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        from silentscope.viewer.payloads import bounds, drawn

        try:
            data = self._load()
            # What the page asks for first, ready before it asks.
            drawn(data, self._max_drawn)
            bounds(data)
            self.app = self._build(data)
        except Exception as exc:  # reported to every API request and to on_error
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self._loaded.set()

    async def __call__(self, scope, receive, send):
        if self.app is not None:
            return await self.app(scope, receive, send)
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/api/")
            or scope["path"] == "/api/progress"
        ):
            return await self._page(scope, receive, send)
        await run_in_threadpool(self._loaded.wait)
        if self.app is not None:
            return await self.app(scope, receive, send)
        message = f"the viewer could not load its data: {self.error}"
        return await JSONResponse({"error": message}, status_code=500)(scope, receive, send)


def free_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host`` (a free port if ``port`` is 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or --host"
        ) from None
    sock.listen(128)
    return sock


def serve(
    data: ViewerData | Callable[[], ViewerData],
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = True,
    on_ready=None,
    max_drawn: int = DEFAULT_MAX_DRAWN,
    preparation: Preparation | None = None,
) -> None:
    """Serve the viewer until interrupted.

    Parameters
    ----------
    data : ViewerData or callable
        The data, or a function that loads it: then the socket listens, the URL is announced
        and the page is served while it loads (see :class:`DeferredApp`); if loading fails,
        the server stops and its error is raised.
    host : str, default="127.0.0.1"
        Interface to listen on. Anything but loopback exposes the store's data to the network.
    port : int, default=0
        Port; 0 picks a free one.
    open_browser : bool, default=True
        Open the page in the default browser once the server listens.
    on_ready : callable, optional
        Called with the URL once the server listens.
    max_drawn : int, default=50_000
        Above this many samples the map draws a stratified subsample of this size.
    preparation : Preparation, optional
        Where loading stands, answered at ``/api/progress`` from the first request on.
    """
    import uvicorn

    sock = free_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
    allowed = LOOPBACK_HOSTS if loopback else ["*"]
    deferred = None
    if callable(data):

        def stop(_error: BaseException) -> None:
            server.should_exit = True

        app = deferred = DeferredApp(
            data, allowed_hosts=allowed, max_drawn=max_drawn, on_error=stop, preparation=preparation
        )
    else:
        app = create_app(data, allowed_hosts=allowed, max_drawn=max_drawn, preparation=preparation)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if deferred is not None:
        deferred.start()
    # The socket already listens: a browser that connects now waits in its backlog for the
    # server, so the URL is announced at once.
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    server.run(sockets=[sock])
    if deferred is not None and deferred.error is not None:
        raise deferred.error


__all__ = [
    "CSRF_HEADER",
    "DeferredApp",
    "LOOPBACK_HOSTS",
    "create_app",
    "free_socket",
    "serve",
]
