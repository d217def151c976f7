"""plotly.js's cartesian bundle, vendored gzipped in the package and served by the app: no CDN, no host setting."""

from __future__ import annotations

import gzip
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

ONE_YEAR = 365 * 24 * 3600
# The partial bundle with every trace type our charts draw (bar, scatter, heatmap); see vendor/README.md.
PLOTLY_VERSION = "4.1.1"
BUNDLE = Path(__file__).resolve().parent / "vendor" / f"plotly-cartesian-{PLOTLY_VERSION}.min.js.gz"


def plotly_js_path() -> Path:
    """The gzipped bundle shipped inside this package."""
    return BUNDLE


def plotly_version() -> str:
    """Part of the URL, so an update of the bundle changes the URL and busts caches."""
    return f"cartesian-{PLOTLY_VERSION}"


def _accepts_gzip(request: HttpRequest) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip" and "q=0" not in part.replace(" ", "")
        for part in request.headers.get("Accept-Encoding", "").split(",")
    )


@require_GET
def plotly_js(request: HttpRequest, version: str) -> FileResponse | HttpResponseNotModified:
    """The bundle, compressed as stored for every browser that accepts gzip (all do), with
    long-lived caching headers (the URL carries the version)."""
    if version != plotly_version():
        raise Http404("unknown plotly version")
    path = plotly_js_path()
    compressed = _accepts_gzip(request)
    etag = f'"plotly-{version}-{path.stat().st_size}{"-gz" if compressed else ""}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    # (a host's GZipMiddleware leaves a response alone that already has a Content-Encoding)
    body = path.open("rb") if compressed else gzip.open(path, "rb")  # noqa: SIM115 (FileResponse closes it)
    response = FileResponse(body, content_type="text/javascript; charset=utf-8")
    if compressed:
        response["Content-Encoding"] = "gzip"
    else:
        del response["Content-Length"]  # FileResponse measured the compressed file
    del response["Content-Disposition"]  # a script, not a download of "….js.gz"
    patch_vary_headers(response, ("Accept-Encoding",))
    response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response["ETag"] = etag
    return response
