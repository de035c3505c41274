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
        url=config["download"]["url"],
        size_bytes=config["download"]["size_bytes"],
        sha256=config["download"]["sha256"],
        keep_tarball=config["download"]["keep_tarball"],
    script:
        "../scripts/download.py"
