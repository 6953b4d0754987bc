#!/bin/sh
# One-shot MinIO setup for camerahub, run by the minio-init service at every start:
#   1. the bucket, created with Object Lock (which also turns on versioning); Object Lock
#      can only be chosen when a bucket is created, so an existing bucket without it is an
#      error to fix by hand (new bucket, copy, rename), never silently accepted;
#   2. a policy that allows camerahub what it does in that bucket and nothing else (no
#      bucket deletion, no lock or versioning changes, no governance bypass, no admin);
#   3. camerahub's own MinIO user with that policy: the services never hold the root
#      credentials.
# Every step may run again: an existing bucket, policy or user is left as it is (the user's
# secret key is set again from .env, so rotating it there and restarting takes effect).
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${CAMERAHUB_S3_ACCESS_KEY:?}" "${CAMERAHUB_S3_SECRET_KEY:?}"
bucket="${CAMERAHUB_BUCKET:-camerahub}"
endpoint="${MINIO_ENDPOINT:-http://minio:9000}"

# The root login goes in through the environment (MC_HOST_<alias>), not the command line.
# MinIO credentials generated as the README says (hex) need no URL escaping.
scheme="${endpoint%%://*}"
hostport="${endpoint#*://}"
export MC_HOST_camerahub="${scheme}://${MINIO_ROOT_USER}:${MINIO_ROOT_PASSWORD}@${hostport}"

mc mb --with-lock --ignore-existing "camerahub/${bucket}"
if ! mc retention info --default "camerahub/${bucket}" >/dev/null 2>&1; then
  echo "minio-init: bucket ${bucket} exists without Object Lock; camerahub needs it for" \
       "legal holds on evidence and write-once audit anchors" >&2
  exit 1
fi
echo "minio-init: bucket ${bucket} has Object Lock"

mc admin policy create camerahub camerahub-rw /init/camerahub-policy.json
# mc takes the user's secret key only as an argument: it is visible to `ps` on this host
# for the second this command runs.
mc admin user add camerahub "${CAMERAHUB_S3_ACCESS_KEY}" "${CAMERAHUB_S3_SECRET_KEY}"
if ! mc admin policy attach camerahub camerahub-rw --user "${CAMERAHUB_S3_ACCESS_KEY}" \
     >/dev/null 2>&1; then
  # Attaching twice is refused ("already in effect"); make sure it really is attached.
  # (No grep in the mc image: the shell matches.)
  info="$(mc admin user info camerahub "${CAMERAHUB_S3_ACCESS_KEY}")"
  case "${info}" in
    *camerahub-rw*) ;;
    *) echo "minio-init: could not attach policy camerahub-rw" >&2; exit 1 ;;
  esac
fi
echo "minio-init: user ${CAMERAHUB_S3_ACCESS_KEY} has policy camerahub-rw"
