"""Flask extensions, created without an app and bound in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from volunteer_hub.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Keyed by the client's address; behind a proxy, VH_PROXY_FIX makes that the real client.
limiter = Limiter(key_func=get_remote_address)
