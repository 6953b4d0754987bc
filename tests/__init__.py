"""camerahub's test suite: one folder per package of camerahub/, shared helpers in support/."""
