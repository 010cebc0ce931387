"""Documents from .docx templates filled from a deal: Russian formatting, the template's
context, a sandboxed render in a limited child process, the shipped templates and their
catalogue (see docs/documents.md)."""
