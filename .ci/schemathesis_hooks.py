"""Hooks for the schemathesis run (.ci/schemathesis.sh); docs/API-CHECKS.md explains them."""

import os
import re

import schemathesis
from schemathesis import Case, CheckContext, Response

# A request that is valid by the document may still be refused, with a 422 naming the field,
# for one of two reasons the document cannot state. Every other 422 to valid data fails.
#
# 1. What is stored: a reference to a record that does not exist, a value another record
#    already holds, a location that would end up inside itself, a PC with no map position, a
#    due date beyond what a site setting allows, a default that names a row no longer there
#    (a new asset's status is "In Service" unless one is sent).
STATE_DEPENDENT = [
    r"^no [a-z ]+ with id -?\d+",
    r"is already used by",
    r"already has the same",
    r"^is already taken$",
    r"a location cannot sit inside itself",
    r"cannot be its own parent",
    r"has no position on the floor map",
    r"\(the usb maxloandays setting\)$",
    r"to use by default$",
    r"^no (computer|printer|device|asset) with",
]
# 2. A rule across fields or against the clock, which JSON Schema (OpenAPI 3.0) cannot
#    express: both map coordinates or neither, an end after its start, a due time in the
#    future, a record not related to or driven by itself, image bytes that are an image.
CROSS_FIELD = [
    r"mapx and mapy are set together",
    r"^(give|set) mapx and mapy together",
    r"must be after startsat",
    r"must be in the future",
    r"cannot be related to itself",
    r"cannot be driven by itself",
    r"must be a PNG, JPEG or WebP image",
    # two items of one list with the same key (a printer's supply levels)
    r"is given twice$",
    # an uploaded body that is not a packed folder plugin (a zip `shopdb plugin pack` writes)
    r"^not a packed plugin \(zip\)",
    r"^unexpected entry '",
    r"^the packed plugin lacks ",
]
# 4. What an uploaded file holds (POST /api/import/...): its columns must name fields of the
#    resource, it must be a CSV or .xlsx file, the key must be one of its columns, a mapping
#    must be a JSON object of header → field. The document states the upload as a file and
#    the mapping as text; what is inside them is not a schema's to say.
FILE_CONTENT = [
    r"^matches no field$",
    r"^the mapping names '",
    r"is given by another column too$",
    r"^has a value but the header has only",
    r"^cannot be read: ",
    r"^is not a valid mapping: ",
    r"^the file has no ",
    r"is no field of [a-z/]+ that rows can be matched by$",
]
ALLOWED = re.compile("|".join(STATE_DEPENDENT + CROSS_FIELD + FILE_CONTENT))
# 3. A value whose validity is arithmetic, not syntax: a subnet's address must have no bits
#    set beyond its prefix length (10.1.0.0/16, not 10.1.2.3/16), and the address and prefix
#    are read as one value, and the gateway must lie inside it. The document describes it; a
#    pattern cannot state it exactly.
FIELD_RULES = {
    "cidr": re.compile(
        r"must be an address and prefix length|is not an IP address|prefix length must be|has host bits set"
    ),
    # ... and a gateway inside that subnet (a rule across the two fields).
    "gateway": re.compile(r"^is not inside "),
}


def allowed(field, message):
    if not isinstance(message, str):
        return False
    rule = FIELD_RULES.get(field)
    return bool(ALLOWED.search(message) or (rule and rule.search(message)))


@schemathesis.check
def state_dependent_rejections_only(ctx: CheckContext, response: Response, case: Case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        details = response.json()["error"]["details"]
    except Exception:  # noqa: BLE001 - any other shape is a failure below
        details = None
    if isinstance(details, dict) and details and all(allowed(k, v) for k, v in details.items()):
        return None
    raise AssertionError(f"valid data refused with 422 for a reason the document could state: {details}")


@schemathesis.hook
def filter_case(ctx, case):
    """The run's own token is not revoked: everything after would be a 401."""
    if case.operation.path == "/api/tokens/{id}" and case.method.upper() == "DELETE":
        return str(case.path_parameters.get("id")) != os.environ.get("SHOPDB_RUN_TOKEN_ID", "1")
    return True
