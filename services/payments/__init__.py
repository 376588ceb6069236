"""Payments: fees paid online through a payment service provider (issue #10).

So far only :mod:`services.payments.psp_simulator`, the stand-in for the provider, which the
payments service will reach over HTTP like any real provider and never import.
"""
