"""The `drive_mirror` settings section."""

from __future__ import annotations

from connector.i18n import N_
from connector.settings_schema import Bool, Number, Pipelines, Schema, Template, Text
from connector.templating import ITEM_FIELDS

DRIVE_MIRROR = Schema("drive_mirror", N_("Google Drive mirror"), (
    Bool("enabled", N_("Mirror to Google Drive"),
         N_("Copy the files of deals of the chosen pipelines to Google Drive."), False),
    Pipelines("category_ids", N_("Pipelines"),
              N_("The deal pipelines that are mirrored; none chosen means all."), [],
              entity="deal"),
    Text("root_folder_id", N_("Drive folder"),
         N_("The id of the Drive folder (or shared drive) that holds the deal folders; "
            "empty means the root of My Drive."), ""),
    Text("shared_drive_id", N_("Shared drive"),
         N_("The shared drive's id when a service account is used (service accounts have "
            "no My Drive storage)."), ""),
    Template("folder_name_template", N_("Drive folder name"),
             N_("The name of a deal's folder on Drive, from the deal's fields."),
             "{ID} {TITLE}", placeholders=ITEM_FIELDS),
    Bool("disk_folder", N_("The deal's Disk folder"),
         N_("Mirror the files in the deal's Disk folder."), True),
    Bool("file_fields", N_("File fields"), N_("Mirror the files in the deal's file fields."),
         True),
    Bool("activities", N_("E-mail and chat attachments"),
         N_("Mirror attachments of the deal's e-mails and open-line chats as they arrive."),
         True),
    Number("max_file_mb", N_("Largest file, MB"),
           N_("Larger files are reported, not mirrored."), 5120, low=1, high=5_000_000),
), help=N_("Deal files mirrored to Google Drive (an archive: nothing is deleted there)."))

SCHEMAS = (DRIVE_MIRROR,)
