# guest/: test guests (built with the backend issues).
GUEST_IMAGES :=
