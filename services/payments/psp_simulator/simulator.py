"""The simulator's parts wired together once per process, reachable from every route."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from services.common.config import PspSimulatorSettings
from services.payments.psp_simulator import merchants
from services.payments.psp_simulator.chaos import Chaos
from services.payments.psp_simulator.provider import Provider
from services.payments.psp_simulator.store import Store
from services.payments.psp_simulator.webhooks import Dispatcher


@dataclass
class Simulator:
    settings: PspSimulatorSettings
    store: Store
    chaos: Chaos
    provider: Provider
    dispatcher: Dispatcher
    admin_token: str


def build(settings: PspSimulatorSettings) -> Simulator:
    """Open the state, upsert the merchants file, wire provider and dispatcher."""
    store = Store(settings.state)
    if settings.merchants_file:
        merchants.seed(store, settings.merchants_file)
    chaos = Chaos.from_settings(settings)
    provider = Provider(store, settings, chaos)
    dispatcher = Dispatcher(store, settings, provider.run_due)
    provider.notify = dispatcher.wake
    return Simulator(settings, store, chaos, provider, dispatcher, merchants.admin_token(settings))


def simulator(request: Request) -> Simulator:
    return request.app.state.simulator
