"""A local OParl 1.1 server for development and tests: another organisation's council
information system as far as the platform is concerned (reached over HTTP only; imports
nothing of the council service). README: services/council/README.md."""
