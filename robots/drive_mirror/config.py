"""The `drive_mirror` settings section."""

from __future__ import annotations

from connector.portal_settings import FieldSpec, Section, in_range, register_section
from robots.deal_workspace.config import FOLDER_FIELDS, _template

SECTION = register_section(Section(
    "drive_mirror",
    "Deal files mirrored to Google Drive (an archive: nothing is deleted there).",
    {
        "enabled": FieldSpec(bool, False, "mirror deals' files to Google Drive"),
        "category_ids": FieldSpec(list, [], "pipelines (empty = all)", item=int),
        "root_folder_id": FieldSpec(str, "", "Drive folder (or shared drive) that holds the "
                                    "deal folders; empty = My Drive root"),
        "shared_drive_id": FieldSpec(str, "", "the shared drive's id when using a service "
                                     "account (they have no My Drive storage)"),
        "folder_name_template": FieldSpec(str, "{ID} {TITLE}", "Drive folder name per deal",
                                          _template(*FOLDER_FIELDS)),
        "disk_folder": FieldSpec(bool, True, "mirror the deal's Disk folder"),
        "file_fields": FieldSpec(bool, True, "mirror the deal's file fields"),
        "activities": FieldSpec(bool, True, "mirror attachments of the deal's e-mails and "
                                "open-line chats as they arrive"),
        "max_file_mb": FieldSpec(int, 5120, "larger files are reported, not mirrored",
                                 in_range(1, 5_000_000)),
    },
))
