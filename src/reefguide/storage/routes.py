"""The signed URLs of local storage: workers PUT result files, users GET them.

Nothing here takes a token: the URL's signature, made by the API when it handed the
URL out, is the permission. With S3 storage these routes answer 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import FileResponse

from reefguide.errors import NotFound
from reefguide.http.routing import ApiRouter
from reefguide.storage.base import media_type
from reefguide.storage.local import LocalStorage

router = ApiRouter(prefix="/storage", tags=["storage"])

Expires = Annotated[str, Query(description="Unix time after which the URL is refused")]
Signature = Annotated[str, Query(description="HMAC of the method, the path and `expires`")]

SIGNED_URL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The path is malformed or leads out of the storage root"},
    403: {"description": "The signature is invalid, made for another method, or expired"},
}
BINARY = {"schema": {"type": "string", "format": "binary"}}
# Downloads are files a worker wrote: never let a browser run one as a page of this origin.
DOWNLOAD_HEADERS = {"content-security-policy": "sandbox"}


async def local_storage(request: Request) -> LocalStorage:
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("Not found")
    return storage


LocalStorageDep = Annotated[LocalStorage, Depends(local_storage)]


@router.put(
    "/{path:path}",
    response_class=Response,
    responses={
        200: {"description": "The file is stored"},
        **SIGNED_URL_ERRORS,
        409: {"description": "A file and a folder would have the same path"},
        413: {"description": "The file is larger than REEFGUIDE_MAX_UPLOAD_BYTES"},
        507: {"description": "The server has no room left"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": BINARY}}},
)
async def put_file(
    path: str, request: Request, storage: LocalStorageDep, expires: Expires = "", signature: Signature = ""
) -> Response:
    """Store a result file at an upload URL from `POST /api/jobs/assignments/{id}/uploads`
    (the URL's signature is the permission). The body is the file's bytes; a second PUT
    replaces the file."""
    target = await storage.authorize("PUT", path, expires, signature)
    await storage.write(target, request.stream())
    return Response(status_code=200)


@router.get(
    "/{path:path}",
    responses={
        200: {"description": "The file", "content": {"application/octet-stream": BINARY}},
        **SIGNED_URL_ERRORS,
        404: {"description": "No such file"},
    },
    response_class=FileResponse,
)
async def get_file(
    path: str, storage: LocalStorageDep, expires: Expires = "", signature: Signature = ""
) -> FileResponse:
    """Download a result file at a URL from `GET /api/jobs/{id}/download` (the URL's
    signature is the permission). The Content-Type follows the file's extension."""
    target = await storage.authorize("GET", path, expires, signature)
    if not await storage.is_file(target):
        raise NotFound("File not found")
    return FileResponse(target, media_type=media_type(target.name), headers=DOWNLOAD_HEADERS)
