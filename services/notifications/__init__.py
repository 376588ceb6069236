"""The notifications service: e-mails to citizens about their cases (see README in the issue #11)."""
