"""The payments domain: Payment (one attempt at the provider), Receivable (what a case owes,
its attempts), KassenzeichenSequence, Notice (the webhook inbox) and Reconciliation. Pure:
no nameko, eventlet, kombu, SQL or HTTP."""

from services.payments.domain.kassenzeichen import KassenzeichenSequence
from services.payments.domain.notice import Notice
from services.payments.domain.payment import Payment, RefundNotPossible
from services.payments.domain.receivable import PaymentClosed, Receivable
from services.payments.domain.reconciliation import Reconciliation

__all__ = ["KassenzeichenSequence", "Notice", "Payment", "PaymentClosed", "Receivable", "Reconciliation", "RefundNotPossible"]
