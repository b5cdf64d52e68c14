#!/bin/sh
# As the official redis image's docker-entrypoint.sh: flags or a .conf file run with redis-server; started
# as root with redis-server, it makes /data the redis user's and drops privileges to it.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi
um="$(umask)"
if [ "$um" = '0022' ]; then
  umask 0077
fi
exec "$@"
