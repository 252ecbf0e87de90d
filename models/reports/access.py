"""Who may read the yearly report (page, downloads, evidence, API) and who may close a year."""

from models.users import Role

# Clerks read the report; supervisors and administrators too.
REPORT_READER_ROLES = (Role.CLERK, Role.SUPERVISOR, Role.ADMIN)
# Closing a year freezes its published figures: supervisors only.
YEAR_CLOSER_ROLES = (Role.SUPERVISOR,)
