# Optional target `download`: the official ELAsTiCC2 training tarball -> config download.dest
# (unpacked, pairs checked). Not part of `all`; runs on the submit host (compute nodes often have
# no internet). Afterwards point the workflow at it: --config raw_dir=<download.dest>.


rule download:
    output:
        Path(config["download"]["dest"]) / ".download.json",
    log:
        LOGS / "download.log",
    localrule: True
    conda:
        CONDA_CPU
    threads: 1
    resources:
        mem_mb=500,
        runtime=600,
    params:
        cfg=rule_settings(config["download"], "download", "download"),
    script:
        "../scripts/download.py"
