#!/bin/sh
# Runs as root inside the image's root file system, once its Debian packages are
# installed (make image: in a chroot after debootstrap; Dockerfile: a RUN step after
# apt-get install). Removes what only the package manager needs and what differs from
# one build to the next, then byte-compiles the standard library in a form that does not
# depend on file mtimes (the image's are all clamped to one epoch).
set -eu
. "$(dirname "$0")/versions.env"

rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /var/cache/ldconfig/aux-cache /var/log/* /usr/share/doc/* /usr/share/man/* /usr/share/info/*
# Password-change dates are the day of the build; make them the fixed epoch's day.
day=$((SOURCE_DATE_EPOCH / 86400))
for f in /etc/shadow /etc/shadow-; do
  [ -f "$f" ] && sed -i "s/^\([^:]*:[^:]*:\)[0-9]*:/\1${day}:/" "$f"
done
# Debian compiles .pyc files at install time, stamped with the source files' mtimes, which
# the image does not keep: recompile them so that Python never looks at mtimes.
find /usr -name __pycache__ -type d -prune -exec rm -rf {} +
python3 -m compileall -q -j 1 --invalidation-mode unchecked-hash \
  /usr/lib/python3.11 /usr/lib/python3/dist-packages >/dev/null
