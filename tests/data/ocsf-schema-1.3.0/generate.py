"""Regenerates the Detection Finding JSON Schemas in this folder from the OCSF 1.3.0 export that
PyPI's `ocsf-json-schema` 1.2.0 bundles (see PROVENANCE.md).

    python3 -m venv /tmp/ocsf && /tmp/ocsf/bin/pip install ocsf-json-schema==1.2.0
    /tmp/ocsf/bin/python tests/data/ocsf-schema-1.3.0/generate.py

One file per profile set a finding can declare in `metadata.profiles`: the profiles add attributes
to the class (the `host` profile adds `actor` and `device`). Objects are embedded under `$defs`
(OcsfJsonSchemaEmbedded), so every `$ref` is local and validation needs no network.
"""

import json
import os

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.3.0"))

for profiles, name in [([], "detection_finding.json"), (["host"], "detection_finding.host.json")]:
    schema = SCHEMA.get_class_schema("detection_finding", profiles)
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(schema, f, indent=1, sort_keys=True)
        f.write("\n")
