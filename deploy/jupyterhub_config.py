"""JupyterHub for one course with nbgrader's exchange ("one class, one grader").

Started by ``deploy/hub.py up``, which writes the settings this file reads (OPTIMIZERS_HUB_SETTINGS):
addresses, the accounts, the paths. What it sets up:

- PAM authentication against the machine's Unix accounts (JupyterHub's own PAMAuthenticator);
  only the course's accounts may log in;
- each user's server runs as that Unix user (LocalProcessSpawner), from the project's Python,
  in JupyterLab, in their home;
- nbgrader's groups: ``formgrade-<course>`` (the instructor) and ``nbgrader-<course>`` (the
  students). A member of the first gets the instructor's Jupyter configuration (formgrader,
  Create Assignment, course list, the course directory); everyone else the students' one
  (Assignments tab and Validate only; no formgrader, no instructor menus);
- the proxy is configurable-http-proxy, started and stopped by the hub; stopping the hub
  stops every server it started.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821

settings = json.loads(Path(os.environ["OPTIMIZERS_HUB_SETTINGS"]).read_text())
course = settings["course_id"]
hub_dir = Path(settings["hub_dir"])
INSTRUCTORS_GROUP = f"formgrade-{course}"
STUDENTS_GROUP = f"nbgrader-{course}"

# --- network: the public address (TLS on a real server), everything else on loopback ---------
c.JupyterHub.ip = settings["ip"]
c.JupyterHub.port = settings["port"]
if settings["ssl_cert"]:
    c.JupyterHub.ssl_cert = settings["ssl_cert"]
    c.JupyterHub.ssl_key = settings["ssl_key"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- the hub's own files (root only) ------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")

# --- who may log in, and nbgrader's course groups -----------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login sessions (pam_systemd) for web logins
c.Authenticator.allowed_users = set(settings["instructors"]) | set(settings["students"])
c.JupyterHub.load_groups = {
    INSTRUCTORS_GROUP: {"users": settings["instructors"]},
    STUDENTS_GROUP: {"users": settings["students"]},
}

# --- each user's server: their own Unix account, the project's Python, JupyterLab ----------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(settings["bin"]) / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {"PATH": f"{settings['bin']}:/usr/local/bin:/usr/bin:/bin"}


def role_configuration(spawner):
    """Point the user's Jupyter at their role's configuration: instructor (formgrade group) or student."""
    groups = {group.name for group in spawner.user.groups}
    role = "instructor" if INSTRUCTORS_GROUP in groups else "student"
    # A new dict: the configured one may be shared by every spawner.
    spawner.environment = {**spawner.environment,
                           "JUPYTER_CONFIG_PATH": os.pathsep.join(settings["jupyter_config_path"][role])}


c.Spawner.pre_spawn_hook = role_configuration
