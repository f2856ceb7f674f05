"""Settings, every one overridable from the environment.

Safe defaults are for the embedded SQLite mode; secrets come from the environment.
"""

import os
import secrets

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("CRM_INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))


def _env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def instance_secret_key():
    """A key generated once and kept in instance/, for when SECRET_KEY is not set.

    A random key per process would log everyone out at each restart and break
    several workers; a committed key would be public.
    """
    os.makedirs(INSTANCE_DIR, exist_ok=True)
    path = os.path.join(INSTANCE_DIR, "secret_key")
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()


class Config:
    # None means: use the key generated once under instance/ (see instance_secret_key).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "crm.sqlite"))
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Seconds a SQLite writer waits for the lock before giving up.
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000"))

    APP_NAME = os.environ.get("CRM_APP_NAME", "物业CRM")
    APP_ICON = None
    APP_THEME = ""
    TIMEZONE = os.environ.get("CRM_TIMEZONE", "Asia/Shanghai")

    # Languages: Simplified Chinese by default, English switchable.
    BABEL_DEFAULT_LOCALE = os.environ.get("CRM_DEFAULT_LOCALE", "zh")
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    LANGUAGES = {
        "zh": {"flag": "cn", "name": "简体中文"},
        "en": {"flag": "gb", "name": "English"},
    }
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(BASE_DIR, "app", "translations")

    # Security
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    FAB_ADD_SECURITY_API = True
    FAB_API_SWAGGER_UI = True
    # Migrations own the schema and `flask crm init` syncs permissions: FAB would otherwise
    # create_all() its tables and write permissions at every start of every worker.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_SECURITY_MANAGER_CLASS = "app.web.security.CrmSecurityManager"
    FAB_INDEX_VIEW = "app.web.home.HomeView"  # managers start on the dashboard
    # Login protection: consecutive failures before a lock, minutes locked; the password policy
    # (app.policy.accounts) is FAB's password-complexity hook, so FAB's forms and user API apply it too.
    CRM_LOGIN_MAX_FAILURES = int(os.environ.get("CRM_LOGIN_MAX_FAILURES", "5"))
    CRM_LOGIN_LOCK_MINUTES = int(os.environ.get("CRM_LOGIN_LOCK_MINUTES", "30"))
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    # Failed sign-ins per client address and per sign-in name per window (web and API logins, all
    # workers together); successful ones are not counted.
    CRM_LOGIN_RATE_LIMIT = int(os.environ.get("CRM_LOGIN_RATE_LIMIT", "20"))
    CRM_LOGIN_RATE_WINDOW_MINUTES = int(os.environ.get("CRM_LOGIN_RATE_WINDOW_MINUTES", "5"))
    # Proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (a load balancer: 1).
    # 0: the headers are ignored and the client address is the connection's.
    CRM_TRUSTED_PROXIES = int(os.environ.get("CRM_TRUSTED_PROXIES", "0"))
    # Minutes a password-reset link stays valid.
    CRM_PASSWORD_RESET_MINUTES = int(os.environ.get("CRM_PASSWORD_RESET_MINUTES", "60"))
    # A session ends after this long without a request, and this long after the login in any case.
    CRM_SESSION_IDLE_MINUTES = int(os.environ.get("CRM_SESSION_IDLE_MINUTES", "120"))
    CRM_SESSION_MAX_HOURS = int(os.environ.get("CRM_SESSION_MAX_HOURS", "12"))
    # "Remember me" on the sign-in page keeps a session on that device this many days (0: no
    # remembering). Such a session is not ended for idleness or CRM_SESSION_MAX_HOURS, only when
    # the days are over, by logout, a password change or disabling the account.
    CRM_REMEMBER_DAYS = int(os.environ.get("CRM_REMEMBER_DAYS", "14"))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # a form left open over lunch still submits
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # behind TLS: redirect plain HTTP to HTTPS and send Strict-Transport-Security
    CRM_FORCE_HTTPS = _env_bool("CRM_FORCE_HTTPS", False)

    # List pages: default and maximum page size (FAB's psize is otherwise uncapped).
    CRM_PAGE_SIZE = int(os.environ.get("CRM_PAGE_SIZE", "25"))
    CRM_MAX_PAGE_SIZE = int(os.environ.get("CRM_MAX_PAGE_SIZE", "100"))
    FAB_API_MAX_PAGE_SIZE = CRM_MAX_PAGE_SIZE
    # Minutes between escalation sweeps (flask crm scheduler).
    CRM_ESCALATION_SWEEP_MINUTES = int(os.environ.get("CRM_ESCALATION_SWEEP_MINUTES", "1"))
    # The address customers reach the app at (rating links in notices).
    CRM_BASE_URL = os.environ.get("CRM_BASE_URL", "http://127.0.0.1:5000")
    # Days a customer's rating link stays valid; days after resolution a ticket closes by itself.
    CRM_RATING_LINK_DAYS = float(os.environ.get("CRM_RATING_LINK_DAYS", "14"))
    # the resident portal: a phone stays signed in for a month of use, three months at most
    CRM_PORTAL_IDLE_DAYS = float(os.environ.get("CRM_PORTAL_IDLE_DAYS", "30"))
    CRM_PORTAL_MAX_DAYS = float(os.environ.get("CRM_PORTAL_MAX_DAYS", "90"))
    # a personal sign-in link in a message the firm sends works this many days
    CRM_PORTAL_LINK_DAYS = float(os.environ.get("CRM_PORTAL_LINK_DAYS", "7"))
    # a resident may remind (催单) about one request at most once in this many hours
    CRM_PORTAL_REMINDER_HOURS = float(os.environ.get("CRM_PORTAL_REMINDER_HOURS", "4"))
    # portal sign-in by a one-time SMS code: minutes a code works, codes per number per 15 minutes,
    # codes per client address per hour; wrong codes in a row that lock a number, and for how long
    CRM_PORTAL_CODE_MINUTES = int(os.environ.get("CRM_PORTAL_CODE_MINUTES", "5"))
    CRM_PORTAL_CODES_PER_NUMBER = int(os.environ.get("CRM_PORTAL_CODES_PER_NUMBER", "3"))
    CRM_PORTAL_CODES_PER_ADDRESS = int(os.environ.get("CRM_PORTAL_CODES_PER_ADDRESS", "20"))
    CRM_PORTAL_WRONG_CODES = int(os.environ.get("CRM_PORTAL_WRONG_CODES", "5"))
    CRM_PORTAL_LOCK_MINUTES = int(os.environ.get("CRM_PORTAL_LOCK_MINUTES", "15"))
    # residents may add and remove family members on the units they own (我的信息)
    CRM_PORTAL_FAMILY_EDIT = os.environ.get("CRM_PORTAL_FAMILY_EDIT", "1").lower() not in ("0", "false", "no", "off")
    # WeChat official-account web authorisation (网页授权) for the portal; off without an appid
    CRM_WECHAT_APPID = os.environ.get("CRM_WECHAT_APPID", "")
    CRM_WECHAT_SECRET = os.environ.get("CRM_WECHAT_SECRET", "")
    CRM_WECHAT_OAUTH_URL = os.environ.get("CRM_WECHAT_OAUTH_URL", "https://open.weixin.qq.com")
    CRM_WECHAT_API_URL = os.environ.get("CRM_WECHAT_API_URL", "https://api.weixin.qq.com")
    CRM_AUTO_CLOSE_DAYS = float(os.environ.get("CRM_AUTO_CLOSE_DAYS", "7"))
    # online payment (README "Connecting online payments"): local (the stand-in), wechatpay or alipay
    CRM_PAYMENT_GATEWAY = os.environ.get("CRM_PAYMENT_GATEWAY", "local")
    # the stand-in's shared signing key (default: derived from SECRET_KEY); a notification older than this is refused
    CRM_PAYMENT_LOCAL_KEY = os.environ.get("CRM_PAYMENT_LOCAL_KEY")
    CRM_PAYMENT_NOTIFY_MAX_AGE = int(os.environ.get("CRM_PAYMENT_NOTIFY_MAX_AGE", "300"))
    WECHATPAY_MCHID = os.environ.get("WECHATPAY_MCHID")
    WECHATPAY_APPID = os.environ.get("WECHATPAY_APPID")
    WECHATPAY_SERIAL = os.environ.get("WECHATPAY_SERIAL")
    WECHATPAY_API_V3_KEY = os.environ.get("WECHATPAY_API_V3_KEY")
    WECHATPAY_PRIVATE_KEY_PATH = os.environ.get("WECHATPAY_PRIVATE_KEY_PATH")
    WECHATPAY_PLATFORM_CERT_PATH = os.environ.get("WECHATPAY_PLATFORM_CERT_PATH")
    WECHATPAY_NOTIFY_URL = os.environ.get("WECHATPAY_NOTIFY_URL")
    WECHATPAY_API_URL = os.environ.get("WECHATPAY_API_URL", "https://api.mch.weixin.qq.com")
    ALIPAY_APP_ID = os.environ.get("ALIPAY_APP_ID")
    ALIPAY_PRIVATE_KEY_PATH = os.environ.get("ALIPAY_PRIVATE_KEY_PATH")
    ALIPAY_PUBLIC_KEY_PATH = os.environ.get("ALIPAY_PUBLIC_KEY_PATH")
    ALIPAY_GATEWAY_URL = os.environ.get("ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do")
    ALIPAY_NOTIFY_URL = os.environ.get("ALIPAY_NOTIFY_URL")
    ALIPAY_RETURN_URL = os.environ.get("ALIPAY_RETURN_URL")
    # Rows offered by the searchable selects for large tables.
    CRM_LOOKUP_LIMIT = 20

    # Notifications. Email goes out when SMTP_HOST is set; SMS / WeChat when their gateway URL is.
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "crm@localhost")
    CRM_SMS_GATEWAY_URL = os.environ.get("CRM_SMS_GATEWAY_URL")
    CRM_WECHAT_GATEWAY_URL = os.environ.get("CRM_WECHAT_GATEWAY_URL")
    CRM_WECHAT_TEMPLATE_ID = os.environ.get("CRM_WECHAT_TEMPLATE_ID", "")
    CRM_GATEWAY_TOKEN = os.environ.get("CRM_GATEWAY_TOKEN")
    # Channels tried after the customer's preferred one, in order; in-app is always the last resort.
    CRM_CHANNEL_ORDER = os.environ.get("CRM_CHANNEL_ORDER", "wechat,sms,email,inapp")
    # Seconds between outbox deliveries (flask crm scheduler); attempts per channel before falling back.
    CRM_OUTBOX_SECONDS = int(os.environ.get("CRM_OUTBOX_SECONDS", "30"))
    # `flask crm scheduler`: how often a waiting process tries to take the lock (takeover time),
    # and how long the job_run ledger is kept
    CRM_SCHEDULER_RETRY_SECONDS = int(os.environ.get("CRM_SCHEDULER_RETRY_SECONDS", "15"))
    CRM_JOB_RUN_KEEP_DAYS = int(os.environ.get("CRM_JOB_RUN_KEEP_DAYS", "7"))
    CRM_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("CRM_OUTBOX_MAX_ATTEMPTS", "4"))
    # Messages sent per delivery run at most: the broadcast throttle (200 every 30 s = 400 a minute).
    CRM_OUTBOX_BATCH = int(os.environ.get("CRM_OUTBOX_BATCH", "200"))

    # Billing: the day of the month the scheduler generates the month's bills; days between
    # two payment reminders to the same customer.
    CRM_BILLING_DAY = int(os.environ.get("CRM_BILLING_DAY", "1"))
    CRM_REMINDER_INTERVAL_DAYS = float(os.environ.get("CRM_REMINDER_INTERVAL_DAYS", "7"))

    # Exports of more rows than this are built by the scheduler and offered in the inbox when ready;
    # the files are kept (under random names) for CRM_EXPORT_KEEP_DAYS.
    CRM_EXPORT_BACKGROUND_ROWS = int(os.environ.get("CRM_EXPORT_BACKGROUND_ROWS", "20000"))  # ~2 s in the request
    CRM_EXPORT_KEEP_DAYS = int(os.environ.get("CRM_EXPORT_KEEP_DAYS", "7"))
    EXPORT_FOLDER = os.environ.get("CRM_EXPORT_FOLDER", os.path.join(INSTANCE_DIR, "exports"))

    # Long work started from a page (bill runs, imports) is done by the scheduler every
    # CRM_TASK_SECONDS, CRM_TASK_BATCH items per committed batch (progress, cancel and resume go by batch).
    CRM_TASK_SECONDS = int(os.environ.get("CRM_TASK_SECONDS", "3"))
    CRM_TASK_BATCH = int(os.environ.get("CRM_TASK_BATCH", "2000"))

    BACKUP_FOLDER = os.environ.get("CRM_BACKUP_FOLDER", os.path.join(INSTANCE_DIR, "backups"))

    UPLOAD_FOLDER = os.environ.get("CRM_UPLOAD_FOLDER", os.path.join(INSTANCE_DIR, "uploads"))
    # Attachments: per file (checked with a clear message), and per request (a little more, for the form).
    CRM_MAX_ATTACHMENT_MB = float(os.environ.get("CRM_MAX_ATTACHMENT_MB", "50"))
    MAX_CONTENT_LENGTH = int((CRM_MAX_ATTACHMENT_MB + 1) * 1024 * 1024)

    # Demo login printed by `make run`; the init command reads the admin password from here.
    CRM_ADMIN_USERNAME = os.environ.get("CRM_ADMIN_USERNAME", "admin")
    CRM_ADMIN_PASSWORD = os.environ.get("CRM_ADMIN_PASSWORD")
    CRM_ADMIN_EMAIL = os.environ.get("CRM_ADMIN_EMAIL", "admin@example.com")
