"""Hand-over of decided cases to the authorities' back-office systems (Fachverfahren):
the submission API's queue with leases and acknowledgements, the back-office clients'
credentials, the file export (JSON/XML). See README.md in this package."""
