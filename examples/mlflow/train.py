"""Train two breast-cancer classifiers, track them with MLflow, and register their ONNX exports.

A scikit-learn pipeline (StandardScaler + LogisticRegression) and a small PyTorch MLP are
trained on scikit-learn's bundled breast-cancer data (nothing is downloaded). Each gets its own
MLflow run with its params, metrics (per epoch for the MLP) and the model in its native MLflow
flavour. Slipway serves ONNX only, so each model is also exported to ONNX, checked, logged as
the run's `onnx/` artifact folder and registered from `runs:/<run_id>/onnx`. The new version
gets the `champion` alias, so `slipway server` serves it at once; the script then scores a few
held-out rows through the server's V2 inference route and checks that the answers match the
original model.

    pip install -r examples/mlflow/requirements.txt
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/mlflow/train.py

Exit codes: 0 done, 1 failure (a missing module, an unreachable server, a served prediction that
does not match), 2 bad usage.
"""

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")

try:
    import mlflow
    import mlflow.exceptions
    import mlflow.pytorch
    import mlflow.sklearn
    import numpy as np
    import onnx
    import torch
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
except ModuleNotFoundError as missing:
    sys.exit(
        f"error: the Python module '{missing.name}' is not installed; "
        f"install this example's requirements first: pip install -r {os.path.relpath(REQUIREMENTS)}"
    )

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
# ONNX opset 17 loads in the onnxruntime bundled with Slipway and is supported by the
# converters of every version requirements.txt allows.
OPSET = 17
# Held-out rows scored through the server to check the served ONNX model against the original.
CHECK_ROWS = 5
# float32 (ONNX) against float64 (scikit-learn) and float32 (PyTorch) arithmetic.
TOLERANCE = 1e-4


def parse_args():
    parser = argparse.ArgumentParser(
        description="Train a scikit-learn and a PyTorch classifier, track them with MLflow and "
        "register their ONNX exports for Slipway to serve. The server is MLFLOW_TRACKING_URI "
        f"(default {DEFAULT_TRACKING_URI}).",
    )
    parser.add_argument("--experiment", default="Default", help="MLflow experiment to log the runs in (default: Default)")
    parser.add_argument(
        "--model-prefix",
        default="breast-cancer",
        help="registered models are PREFIX-sklearn and PREFIX-torch (default: breast-cancer)",
    )
    parser.add_argument("--epochs", type=int, default=60, help="training epochs of the PyTorch MLP (default: 60)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength C of the logistic regression (default: 1.0)")
    parser.add_argument(
        "--no-serving-check",
        action="store_true",
        help="do not score held-out rows through the server after registering (for a tracking server that does not serve models)",
    )
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.c <= 0:
        parser.error("--c must be greater than 0")
    return args


def load_data():
    """The breast-cancer data that ships with scikit-learn, split 80/20, with the column names of
    Slipway's test fixtures (spaces become underscores: `mean radius` -> `mean_radius`)."""
    data = load_breast_cancer()
    columns = [name.replace(" ", "_") for name in data.feature_names]
    x_train, x_test, y_train, y_test = train_test_split(
        data.data.astype(np.float32), data.target, test_size=0.2, random_state=0, stratify=data.target
    )
    return columns, x_train, x_test, y_train, y_test


def evaluate(y_true, p_positive):
    """Accuracy, ROC AUC and log loss of positive-class probabilities (1 = benign)."""
    return {
        "accuracy": float(accuracy_score(y_true, p_positive >= 0.5)),
        "roc_auc": float(roc_auc_score(y_true, p_positive)),
        "log_loss": float(log_loss(y_true, np.clip(p_positive, 1e-7, 1 - 1e-7))),
    }


def check_onnx(path):
    """Validates the exported file and describes its inputs and outputs, e.g. `features float [batch,30]`."""
    model = onnx.load(path)
    onnx.checker.check_model(model)

    def describe(values):
        parts = []
        for v in values:
            tensor = v.type.tensor_type
            # A named free dimension shows its name, an unnamed one (skl2onnx's None) shows "?".
            dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
            parts.append(f"{v.name} {onnx.TensorProto.DataType.Name(tensor.elem_type).lower()} [{','.join(dims)}]")
        return ", ".join(parts)

    return f"{describe(model.graph.input)} -> {describe(model.graph.output)}"


def train_sklearn(args, data, onnx_dir):
    """Logistic regression on standardised features; exported with skl2onnx, without a ZipMap."""
    columns, x_train, x_test, y_train, y_test = data
    clf = LogisticRegression(C=args.c, max_iter=1000)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
    mlflow.log_params({"model": "logistic_regression", "C": args.c, "max_iter": 1000, "scaler": "standard"})
    pipe.fit(x_train, y_train)
    p_test = pipe.predict_proba(x_test)[:, 1]
    metrics = evaluate(y_test, p_test)
    mlflow.log_metrics(metrics)

    # The native flavour: loads back with mlflow.sklearn.load_model. Slipway stores and registers
    # it, but serves ONNX only, so the ONNX export below is what gets registered.
    mlflow.sklearn.log_model(pipe, "model", signature=infer_signature(x_test, p_test))

    # skl2onnx ends a classifier in a ZipMap by default (probabilities as a list of
    # {class: probability} maps). `zipmap: False` on the final step keeps them a plain
    # [rows, classes] float tensor named `probabilities`; `None` makes the batch size free.
    onx = convert_sklearn(
        pipe,
        initial_types=[("features", FloatTensorType([None, len(columns)]))],
        options={id(clf): {"zipmap": False}},
        target_opset=OPSET,
    )
    path = os.path.join(onnx_dir, "model.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    return path, metrics, lambda rows: pipe.predict_proba(rows)


class MLP(torch.nn.Module):
    """A two-hidden-layer MLP that standardises its raw inputs itself, so the exported ONNX model
    takes the same rows as the scikit-learn one: 30 raw features in, P(benign) out."""

    def __init__(self, mean, std, hidden=32):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(len(mean), hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1),
        )

    def logits(self, features):
        return self.net((features - self.mean) / self.std)

    def forward(self, features):
        return torch.sigmoid(self.logits(features))


def train_torch(args, data, onnx_dir):
    """The MLP, trained with Adam in mini-batches; metrics are logged once per epoch."""
    columns, x_train, x_test, y_train, y_test = data
    torch.manual_seed(0)
    params = {"model": "mlp", "hidden": 32, "layers": 2, "epochs": args.epochs, "lr": 0.01, "batch_size": 64, "optimizer": "adam"}
    mlflow.log_params(params)
    model = MLP(x_train.mean(axis=0), x_train.std(axis=0) + 1e-6, hidden=params["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train.astype(np.float32)).unsqueeze(1)
    xv = torch.from_numpy(x_test)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xt))
        total = 0.0
        for start in range(0, len(xt), params["batch_size"]):
            batch = order[start : start + params["batch_size"]]
            optimizer.zero_grad()
            loss = loss_fn(model.logits(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            p_test = model(xv).squeeze(1).numpy()
        epoch_metrics = evaluate(y_test, p_test)
        mlflow.log_metrics({"train_loss": total / len(xt), "val_loss": epoch_metrics.pop("log_loss"), **epoch_metrics}, step=epoch)
    metrics = evaluate(y_test, p_test)

    # The native flavour: loads back with mlflow.pytorch.load_model; not served by Slipway.
    mlflow.pytorch.log_model(model, "model", signature=infer_signature(x_test, p_test))

    # A free batch dimension on the input and the output, so the served model takes any number
    # of rows and Slipway can batch requests together.
    export_options = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # The TorchScript exporter writes one self-contained file and honours dynamic_axes.
        export_options["dynamo"] = False
    path = os.path.join(onnx_dir, "model.onnx")
    torch.onnx.export(
        model,
        torch.from_numpy(x_test[:1]),
        path,
        input_names=["features"],
        output_names=["probabilities"],
        dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=OPSET,
        **export_options,
    )

    def predict(rows):
        with torch.no_grad():
            return model(torch.from_numpy(rows)).numpy()

    return path, metrics, predict


def infer(tracking_uri, name, rows):
    """POSTs rows to the server's V2 route for a model; returns (served version, first output's rows)."""
    body = json.dumps(
        {"inputs": [{"name": "features", "datatype": "FP32", "shape": list(rows.shape), "data": rows.ravel().tolist()}]}
    ).encode()
    request = urllib.request.Request(
        f"{tracking_uri.rstrip('/')}/v2/models/{urllib.parse.quote(name, safe='')}/infer",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    out = next(o for o in answer["outputs"] if o["name"] == "probabilities")
    return answer["model_version"], np.array(out["data"], dtype=np.float64).reshape(out["shape"])


def check_served(tracking_uri, name, version, rows, expected):
    """Scores rows through the server until it serves `version` (it loads a new champion in the
    background), then compares the probabilities with the original model's."""
    deadline = time.monotonic() + 60
    while True:
        try:
            served, got = infer(tracking_uri, name, rows)
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise SystemExit(
                f"error: {tracking_uri} did not score model '{name}' ({err.code}: {detail}). "
                "Is it a Slipway server? Use --no-serving-check for a tracking server that does not serve models."
            ) from None
        if served == str(version):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"error: the server still serves {name} version {served}, not the new champion {version}, after 60 s.")
        time.sleep(0.5)
    worst = float(np.max(np.abs(got - expected)))
    if worst > TOLERANCE:
        raise SystemExit(f"error: {name} version {version} served by Slipway differs from the trained model by {worst:.2e} (more than {TOLERANCE}).")
    return worst


def require_server(tracking_uri):
    """Fails at once, with what to do, when the tracking server does not answer (the MLflow
    client would retry for minutes before it gives up)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=10):
            pass
    except urllib.error.HTTPError:
        pass  # It answers; the MLflow calls below report anything else.
    except (urllib.error.URLError, OSError) as err:
        sys.exit(
            f"error: cannot reach the tracking server at {tracking_uri} ({getattr(err, 'reason', err)}); "
            "start Slipway with `npm start` (or `npx slipway server`), or set MLFLOW_TRACKING_URI to your server."
        )


def main():
    args = parse_args()
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    require_server(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(args.experiment)
    client = MlflowClient()
    data = load_data()
    columns, x_test = data[0], data[2]
    registered = []

    for flavour, run_name, train in (("sklearn", "sklearn-logreg", train_sklearn), ("torch", "torch-mlp", train_torch)):
        name = f"{args.model_prefix}-{flavour}"
        with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name=run_name) as run:
            onnx_dir = os.path.join(tmp, "onnx")
            os.makedirs(onnx_dir)
            path, metrics, predict = train(args, data, onnx_dir)
            signature = check_onnx(path)
            # The whole folder is logged, so weights an exporter writes beside model.onnx (ONNX
            # external data) travel with it; Slipway serves the folder as one model.
            mlflow.log_artifacts(onnx_dir, artifact_path="onnx")
            run_id = run.info.run_id
        # Registered from the run's ONNX folder. `slipway.columns` names the input's columns,
        # which Slipway's monitoring and MLflow-style dataframe requests use.
        version = mlflow.register_model(f"runs:/{run_id}/onnx", name, tags={"slipway.columns": json.dumps(columns)})
        client.set_registered_model_alias(name, "champion", version.version)
        worst = None
        if not args.no_serving_check:
            rows = x_test[:CHECK_ROWS]
            worst = check_served(tracking_uri, name, version.version, rows, predict(rows))
        registered.append((name, version.version, run_id, signature, metrics, worst))

    print(f"Registered at {tracking_uri} (experiment '{args.experiment}'):")
    for name, version, run_id, signature, metrics, worst in registered:
        print(f"  {name} version {version} (alias champion) from runs:/{run_id}/onnx")
        print(f"    signature  {signature}")
        print(f"    held out   accuracy {metrics['accuracy']:.3f}, ROC AUC {metrics['roc_auc']:.3f}")
        if worst is not None:
            print(f"    served     {CHECK_ROWS} held-out rows through {tracking_uri}/v2/models/{name}/infer, max difference {worst:.1e}")
    first = registered[0]
    print("Serve a version on its own port:")
    print(f"  npx slipway serve models:/{first[0]}/{first[1]}")


if __name__ == "__main__":
    try:
        main()
    except mlflow.exceptions.MlflowException as err:
        sys.exit(f"error: {err.message}")
