#!/bin/sh
# netns-agent.sh HOST COMMAND...: what mpirun runs instead of ssh to start
# its daemon on HOST (--mca plm_rsh_agent), for hosts that are network
# namespaces of this machine: COMMAND runs in the namespace that
# CXR_NETNS_MAP ("ADDRESS=NAMESPACE ...") gives HOST's address.
host=$1
shift
for pair in $CXR_NETNS_MAP; do
  if [ "${pair%%=*}" = "$host" ]; then
    exec ip netns exec "${pair#*=}" /bin/sh -c "$*"
  fi
done
echo "netns-agent.sh: no namespace for host $host" >&2
exit 1
