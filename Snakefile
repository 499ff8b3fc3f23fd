# conservattack: CONSERVAttack studies as a Snakemake workflow.
# Run `snakemake --cores all` (default config: the embedded Donut study); see README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


# Validate before any rule is defined or run: unknown keys and wrong types stop here.
validate(config, "workflow/schemas/config.schema.yaml")


# `snakemake --report report.html`: this description, then every figure by study and dataset.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/jets.smk"
include: "workflow/rules/custom.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/detector.smk"
include: "workflow/rules/defences.smk"
include: "workflow/rules/disco.smk"
include: "workflow/rules/adversarial_training.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
