"""The Casbin model and base policy, as data files; a package only so that the wheel ships them
beside camerahub (camerahub.authz.policy reads them from here)."""
