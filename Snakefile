# conservattack: CONSERVAttack studies as a Snakemake workflow.
# Run `snakemake --cores all` (default config: the embedded Donut study); see README.md.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

LIB = Path(workflow.basedir) / "workflow" / "lib"
sys.path.insert(0, str(LIB))
# Rule scripts import the library of THIS checkout (the one whose files the DAG tracks), not
# whichever copy happens to be pip-installed; jobs inherit the variable.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [str(LIB)]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
)

from conservattack.pipeline.configschema import checked_config  # noqa: E402
from conservattack.pipeline.report import check_report_config  # noqa: E402
from conservattack.pipeline.report import report_requested  # noqa: E402
from conservattack.pipeline.runlog import quiet_terminal  # noqa: E402


configfile: "config.yaml"


# Validate before any rule is defined or run: unknown keys and wrong types stop here. A block
# given in part keeps its documented per-dataset defaults for the keys it leaves out.
config.update(
    checked_config(
        config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
    )
)
# One terminal line per job (with the workflow profile's quiet: [rules]): each rule script
# announces itself; Snakemake's own per-job bookkeeping lines go to .snakemake/log/ only.
quiet_terminal(workflow)
# `snakemake --report`: the captions read this configuration, so it must be the one the results
# were made with (results/<dataset>/config.yaml, rule record_config); otherwise stop, naming it.
if report_requested(sys.argv):
    check_report_config(config)


# Downloads run where snakemake runs (a cluster's submit node), not as cluster jobs: compute
# nodes often have no outbound network. Recording the configuration is too small for a job.
localrules:
    download_higgs,
    download_ttww,
    record_config,


# `snakemake --report report.html`: this description, then every figure by study and dataset.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/jets.smk"
include: "workflow/rules/custom.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/rule_comparison.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/detector.smk"
include: "workflow/rules/defences.smk"
include: "workflow/rules/disco.smk"
include: "workflow/rules/adversarial_training.smk"
include: "workflow/rules/scaling.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


# `snakemake scaling --cores all --configfile <config>`: only the size-scaling study (docs/studies.md)
rule scaling:
    input:
        lambda wildcards: scaling_targets(),


# HTCondor takes a job's memory only from htcondor_request_mem_mb (the executor plugin ignores
# mem_mb): every rule states its mem_mb there too, so no cluster profile needs its own estimate.
mirror_memory_for_htcondor(
    workflow.rules, workflow.resource_settings.overwrite_resources
)
