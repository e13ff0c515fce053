"""What reprotasks writes, checked against the standards' own reference definitions, not our readers:
in-toto Statement v1 and the SLSA provenance v1 / VSA v1 predicates (the in-toto-attestation
package: protobuf messages parsed strictly, no unknown field, plus its validators), CycloneDX with
cyclonedx-python-lib's JSON schema validator, SARIF 2.1.0 with the OASIS JSON schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
VSA_V1 = "https://slsa.dev/verification_summary/v1"


# in-toto's parsing rules let producers add extension fields to any object (consumers ignore
# them); reprotasks' own lives under this one name, so anything else unknown is a mistake.
EXTENSIONS = frozenset({"reprotasks"})


def _strict(data: Any, message: Message, what: str) -> Message:
    """``data`` parsed into the reference message: every known field of its type, no unknown field
    but our extension (protobuf's JSON parser is the schema)."""
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key not in EXTENSIONS}
    try:
        return json_format.ParseDict(data, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise AssertionError(f"{what} does not follow its schema: {exc}") from None


def check_statement(data: dict[str, Any]) -> None:
    """An in-toto Statement v1 whose predicate follows its own schema (SLSA provenance v1 or VSA v1)."""
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    parsed = _strict(data, statement_pb2.Statement(), "the statement")
    Statement.copy_from_pb(parsed).validate()
    predicates: dict[str, Message] = {
        PROVENANCE_V1: provenance_pb2.Provenance(),
        VSA_V1: vsa_pb2.VerificationSummary(),
    }
    predicate_type = data["predicateType"]
    assert predicate_type in predicates, f"no schema known for {predicate_type}"
    fields = dict(data["predicate"])
    if predicate_type == VSA_V1:
        # Where the package's VSA proto (0.9.3) lags the SLSA VSA v1 spec, the field is checked here
        # against the spec: `verifiedLevels` is an array of SlsaResult strings (the proto: one
        # string) and `verifier.version` a map of component names to versions (the proto: absent).
        levels = fields.pop("verifiedLevels", None)
        assert isinstance(levels, list) and levels, f"verifiedLevels must be a non-empty array: {levels!r}"
        assert all(isinstance(level, str) and re.fullmatch(r"[A-Z0-9_]+", level) for level in levels), levels
        verifier = dict(fields.get("verifier") or {})
        version = verifier.pop("version", {})
        assert isinstance(version, dict) and all(isinstance(v, str) for v in version.values()), version
        fields["verifier"] = verifier
    predicate = _strict(fields, predicates[predicate_type], predicate_type)
    if predicate_type == PROVENANCE_V1:
        # The fields SLSA provenance v1 requires (protobuf has no notion of required).
        assert predicate.build_definition.build_type and predicate.run_details.builder.id, data["predicate"]
    else:
        summary = predicate
        assert summary.verifier.id and summary.time_verified and summary.resource_uri, data["predicate"]
        assert summary.verification_result in ("PASSED", "FAILED"), data["predicate"]


def check_cyclonedx(path: Path) -> None:
    """The SBOM against the CycloneDX JSON schema of the version it declares."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    data = json.loads(path.read_text(encoding="utf-8"))
    version = SchemaVersion.from_version(data["specVersion"])
    error = JsonStrictValidator(version).validate_str(path.read_text(encoding="utf-8"))
    assert error is None, f"{path.name} is not valid CycloneDX {data['specVersion']}: {error}"
