"""Council information (Ratsinformationssystem): each tenant's OParl 1.1 source, its sync
worker and the read model of meetings, agendas and papers (services/council/README.md)."""
