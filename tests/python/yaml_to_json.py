"""Prints the YAML documents of a file as one JSON list (tests lint manifests with it)."""

import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    print(json.dumps(list(yaml.safe_load_all(handle))))
