"""The `nsnet` command line (typer). Each command maps its options onto one stage's dataclass config.

Every command is a plain function in a module of this package (:mod:`~nsnet.cli.data`,
:mod:`~nsnet.cli.sampler`, :mod:`~nsnet.cli.evaluate`, :mod:`~nsnet.cli.decode`) and is registered here, in pipeline order.
"""

from __future__ import annotations

import typer

from nsnet.cli import data, decode, evaluate, sampler

app = typer.Typer(
    name="nsnet",
    help="NSNet: look at only the few frames that matter. extract -> fit-recognizer -> fit-sampler -> evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
store_app = typer.Typer(help="Feature store interop (HDF5).", no_args_is_help=True)

app.command("extract")(data.extract)
app.command("fit-recognizer")(data.fit_recognizer)
app.command("info")(data.info)
app.command("check-decode")(decode.check_decode)
app.add_typer(store_app, name="store")
store_app.command("export-h5")(data.export_h5)
store_app.command("import-h5")(data.import_h5)
app.command("demo-data")(data.demo_data)
app.command("fit-sampler")(sampler.fit_sampler_command)
app.command("ablate")(sampler.ablate_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("predict")(evaluate.predict_command)

if __name__ == "__main__":
    app()
