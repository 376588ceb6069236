"""The service template: copy this package to start a new service (see README.md)."""
