"""The operator's command line: ``python -m services.ops --help`` (deploy/RUNBOOK.md)."""
