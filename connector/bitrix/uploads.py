"""Putting files on a portal's Disk: a new file by the two-step upload, a new version.

`disk.folder.uploadfile` without `fileContent` answers `{field, uploadUrl}`; the bytes then
go as a multipart POST to that address, in the part named `field`
(api-reference/disk/folder/disk-folder-upload-file.md, "Загрузка файла через URL"). That is
two requests, and the file travels once, raw: with `fileContent` it would travel as base64,
a third larger (api-reference/files/how-to-upload-files.md), inside a JSON body that the
portal's request limits bound. `disk.file.uploadversion` has only the base64 form
(api-reference/disk/file/disk-file-upload-version.md).
"""

from __future__ import annotations

import base64
from typing import Any

from connector.bitrix.errors import BitrixPermanentError, TokenExpired
from connector.bitrix.rest import BitrixClient


def upload_file(client: BitrixClient, folder_id: int, name: str, content: bytes,
                unique: bool) -> dict[str, Any]:
    """The new file as the portal answers it (disk.folder.uploadfile's fields).

    The name goes both as `data.NAME` and as the part's file name: the docs let `data` out
    of the two-step form, so the part's name is what names the file there. An upload
    address whose token expired before the POST (TokenExpired) is asked for again once:
    the first step's call refreshes the token as every call does.
    """
    renewed = False
    while True:
        step = client.call("disk.folder.uploadfile", {
            "id": folder_id, "data": {"NAME": name}, "generateUniqueName": unique})
        url = step.get("uploadUrl") if isinstance(step, dict) else None
        if not url:
            raise BitrixPermanentError("UNEXPECTED_ANSWER", "no uploadUrl in the answer", 0,
                                       "disk.folder.uploadfile")
        try:
            made = client.post_file(str(url), str(step.get("field") or "file"), name, content)
        except TokenExpired:
            if renewed:
                raise
            renewed = True
            continue
        if not isinstance(made, dict) or not made.get("ID"):
            raise BitrixPermanentError("UNEXPECTED_ANSWER", "the upload answered no file", 0,
                                       "disk.upload")
        return made


def upload_version(client: BitrixClient, file_id: int, content: bytes, name: str = ""
                   ) -> dict[str, Any]:
    """The file with its new content, as disk.file.uploadversion answers it.

    `fileContent` needs a name; the file keeps its own (the docs' sample sends the name the
    file already has), so without `name` the file's current name is read first, and a
    `name` the answer does not carry is given by disk.file.rename afterwards.
    """
    if not name:
        name = str((client.call("disk.file.get", {"id": file_id}) or {}).get("NAME") or "")
    encoded = base64.b64encode(content).decode("ascii")
    made = client.call("disk.file.uploadversion", {"id": file_id,
                                                   "fileContent": [name, encoded]})
    if not isinstance(made, dict):
        raise BitrixPermanentError("UNEXPECTED_ANSWER", "the new version answered no file", 0,
                                   "disk.file.uploadversion")
    if str(made.get("NAME") or "") != name:
        made = client.call("disk.file.rename", {"id": file_id, "newName": name})
    return made
