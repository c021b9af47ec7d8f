"""Schemathesis hooks for fuzzing `ferry serve` from the platform's description.

The description (spec/platform/identitysystem-2025-04.yaml, a verbatim copy) is
loaded as published; these hooks only resolve the points where it is ambiguous
or contradicts itself, each with the decision ferry serve implements. Every
check stays on: a hook widens what the description allows only where the
description itself cannot be met as written.
"""

import schemathesis

# Operations whose declared constraints need an error status the description
# forgot, with the status ferry serve answers (see src/server/system.rs):
MISSING_ERROR_STATUSES = {
    # `limit` is declared `minimum: 1, maximum: 100` (and `sort`/`order` take
    # named values), but the operation declares no 400: a value out of range
    # cannot be rejected with a declared status. ferry serve answers 400, as
    # its sibling systemListUsers declares for the same parameters.
    "systemListPools": ("400", "badRequestHTTPError"),
    # The body must hold one of `identifier` and `address`, but the operation
    # declares neither 400 nor 422. ferry serve answers 422, the status the
    # same description declares for the body of verifyPasswordV2.
    "systemGetUserByKey": ("422", "unprocessableEntityHTTPError"),
    # `with_idp` is declared `type: boolean`, but the operation declares no
    # 400: a value that is not a boolean cannot be rejected with a declared
    # status. ferry serve answers 400 (see src/server/deletes.rs).
    "systemDeletePool": ("400", "badRequestHTTPError"),
}

# Statuses an operation can answer that its declaration leaves out, with why:
UNDECLARED_STATUSES = {
    "verifyPasswordV2": [
        # "Endpoint is protected by Brute Force mechanism", the description
        # says, without a status for it; ferry serve answers 429 with
        # Retry-After, the status every other operation declares for
        # throttling.
        ("429", "tooManyRequestsHTTPError"),
        # An unknown pool: every other operation on `/system/pools/{ipID}`
        # declares 404 for it, this one does not. ferry serve answers 404
        # rather than a `user_not_found` that would hide a wrong pool id.
        ("404", "notFoundHTTPError"),
    ],
}


def _any_value_maps(node):
    """`additionalProperties: {type: object}` is go-swagger's rendering of a Go
    `map[string]interface{}` (`payload`, `metadata`: any JSON value per key, as
    the copy's README says), not "every value is an object"."""
    if isinstance(node, dict):
        if node.get("additionalProperties") == {"type": "object"}:
            node["additionalProperties"] = {}
        for value in node.values():
            _any_value_maps(value)
    elif isinstance(node, list):
        for value in node:
            _any_value_maps(value)


@schemathesis.hook
def before_load_schema(context, raw_schema):
    _any_value_maps(raw_schema)
    for methods in raw_schema.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict):
                continue
            name = operation.get("operationId")
            added = list(UNDECLARED_STATUSES.get(name, []))
            if name in MISSING_ERROR_STATUSES:
                added.append(MISSING_ERROR_STATUSES[name])
            responses = operation.setdefault("responses", {})
            for status, response in added:
                responses.setdefault(status, {"$ref": f"#/responses/{response}"})
