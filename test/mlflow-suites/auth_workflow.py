"""
MLflow 2.12.2's own client against a Slipway server started with --auth: its tracking workflow with
HTTP Basic (MLFLOW_TRACKING_USERNAME/PASSWORD) and with a Slipway API token (MLFLOW_TRACKING_TOKEN),
and its basic-auth app client managing users and permissions. Run by run-auth.sh; prints each step
and ALL OK, or exits 1 at the first surprise.
"""
import base64, json, os, sys, tempfile, urllib.request
import mlflow
from mlflow import MlflowClient
from mlflow.server import get_app_client
from mlflow.exceptions import MlflowException

uri = os.environ["URI"]
admin_pw = os.environ["ADMIN_PW"]
mlflow.set_tracking_uri(uri)

def as_user(user, pw):
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    os.environ["MLFLOW_TRACKING_USERNAME"] = user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = pw

def as_token(t):
    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    os.environ["MLFLOW_TRACKING_TOKEN"] = t

as_user("admin", admin_pw)
# get_app_client("basic-auth") returns this class; entry points need a pip install, so it is built directly.
from mlflow.server.auth.client import AuthServiceClient
auth = AuthServiceClient(uri)
u = auth.create_user(username="alice", password="alice-password-1")
print("created user", u.username, "admin" if u.is_admin else "not admin")
auth.create_user(username="bob", password="bob-password-12")
print("get_user", auth.get_user("bob").username)

as_user("alice", "alice-password-1")
exp_id = mlflow.create_experiment("alice-exp")
mlflow.set_experiment(experiment_id=exp_id)
with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.1)
    for i in range(5):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    d = tempfile.mkdtemp()
    p = os.path.join(d, "notes.txt")
    open(p, "w").write("hello")
    mlflow.log_artifact(p)
print("alice logged run", run.info.run_id)
client = MlflowClient()
client.create_registered_model("alice-model")
print("alice registered a model")

as_user("admin", admin_pw)
auth.create_experiment_permission(experiment_id=exp_id, username="bob", permission="READ")
print("bob on alice-exp:", auth.get_experiment_permission(experiment_id=exp_id, username="bob").permission)
auth.update_experiment_permission(experiment_id=exp_id, username="bob", permission="EDIT")
print("bob on alice-exp:", auth.get_experiment_permission(experiment_id=exp_id, username="bob").permission)
auth.create_registered_model_permission(name="alice-model", username="bob", permission="NO_PERMISSIONS")
print("bob on alice-model:", auth.get_registered_model_permission(name="alice-model", username="bob").permission)

as_user("bob", "bob-password-12")
try:
    MlflowClient().delete_registered_model("alice-model")
    print("FAIL: bob deleted alice-model")
    sys.exit(1)
except MlflowException as e:
    print("bob may not delete alice-model:", e.error_code)
MlflowClient().log_param(run.info.run_id, "bob_was_here", "1")
print("bob (EDIT) logged a param on alice's run")

as_user("alice", "wrong-password-x")
try:
    MlflowClient().search_experiments()
    print("FAIL: wrong password accepted")
    sys.exit(1)
except MlflowException as e:
    print("wrong password refused:", e.error_code if hasattr(e, 'error_code') else e)

# A Slipway API token for alice, created with her password on the native API, then used as MLflow's bearer token.
req = urllib.request.Request(f"{uri}/api/v1/tokens", data=json.dumps({"name": "mlflow-client"}).encode(), method="POST",
                             headers={"content-type": "application/json", "authorization": "Basic " + base64.b64encode(b"alice:alice-password-1").decode()})
token = json.load(urllib.request.urlopen(req))["secret"]
if True:
    as_token(token)
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run() as r2:
        mlflow.log_metric("acc", 0.9)
    print("alice logged a run with a token:", r2.info.run_id)

as_user("admin", admin_pw)
auth.delete_experiment_permission(experiment_id=exp_id, username="bob")
auth.update_user_password(username="bob", password="bob-new-password")
auth.update_user_admin(username="bob", is_admin=True)
print("bob admin now:", auth.get_user("bob").is_admin)
auth.delete_user(username="bob")
print("ALL OK")
