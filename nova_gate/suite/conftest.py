"""The packaged gates' conftest (wheel only; the checkout's root conftest.py does the same there).

The backend fixtures are copied into this module, so they are conftest fixtures of the suite's
directory: they win over same-named fixtures of a host repository or plugin (pytest prefers the
closest conftest), and a host's own ``env`` or ``kafka`` fixture never changes what the checks see.
"""

from __future__ import annotations

import importlib
from typing import Any

from nova_gate.suite import FIXTURE_PLUGINS


def _is_fixture(value: Any) -> bool:
    return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction")


for _module_name in FIXTURE_PLUGINS:
    _module = importlib.import_module(_module_name)
    globals().update({k: v for k, v in vars(_module).items() if not k.startswith("_") and _is_fixture(v)})
