# Copy to instance/config.py. Every key can also be set in the environment as CITYDESK_<KEY>.
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://citydesk@127.0.0.1/citydesk"
# SECRET_KEY = "..."            # else generated into instance/secret_key
# AUDIT_KEY = "..."             # else generated into instance/audit_key (back it up)
# SESSION_COOKIE_SECURE = True  # when served over HTTPS
# IDLE_TIMEOUT_MINUTES = 30
# DISPATCH_SLA_SECONDS = 600
# BASE_URL = "https://citydesk.example.gov.tw"
# PHOTO_MAX_BYTES = 10 * 1024 * 1024   # largest repair photo accepted (a larger one gets 413)
# PHOTO_MAX_COUNT = 6                  # photos per submission
# PHOTO_DIR = "/var/lib/citydesk/photos"  # default: <instance>/photos (never under static/)
# MAIL_SERVER = "smtp.example.gov.tw"   # e-mail notices (see docs/jobs.md); none: they wait
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_SENDER = "CityDesk <citydesk@example.gov.tw>"
# RUN_SCHEDULER = False         # when `citydesk jobs` runs as its own process
