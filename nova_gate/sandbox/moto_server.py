"""moto's server with one fix: ``AssumeRoleWithWebIdentity`` / ``AssumeRoleWithSAML`` are unsigned.

AWS does not sign these two STS calls (the web-identity or SAML token is the credential), and
botocore's web-identity provider sends them unsigned. moto 5 with IAM enforcement on
(``INITIAL_NO_AUTH_ACTION_COUNT``) tries to authenticate every action and fails on the missing
``Authorization`` header (a KeyError, HTTP 500). This wrapper skips authentication for exactly those
two actions, as AWS does, and runs moto's own server otherwise unchanged.

    python -m nova_gate.sandbox.moto_server -H 127.0.0.1 -p 58202
"""

from __future__ import annotations

import sys
from typing import Any

UNSIGNED_STS_ACTIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})


def patch() -> None:
    from moto.core.responses import BaseResponse

    original = BaseResponse._authenticate_and_authorize_normal_action

    def authenticate(self: Any, *args: Any, **kwargs: Any) -> None:
        if self._get_action() in UNSIGNED_STS_ACTIONS:
            return
        original(self, *args, **kwargs)

    BaseResponse._authenticate_and_authorize_normal_action = authenticate  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    patch()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
