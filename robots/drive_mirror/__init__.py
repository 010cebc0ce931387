"""Mirror each deal's files to Google Drive and keep them there, even if deleted in the CRM."""
