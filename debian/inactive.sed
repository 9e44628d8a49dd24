# Turns collectd.conf.d/dsmr.conf into the inactive /etc copy: a header
# saying how to turn it on, then every setting commented out with a single
# '#' (the file's own comments start with '# ' or '#X', so they stay apart).
1i\
# Installed by the collectd-dsmr package INACTIVE: every setting below is\
# commented out, so collectd runs as before. To read a meter (see\
# /usr/share/doc/collectd-dsmr/README.Debian):\
#   1. remove the '#>' that starts the seven marked lines below (TypesDB,\
#      LoadPlugin, <Plugin dsmr>, <Meter>, Device and the closing tags):\
#        sed -i 's/^#>//' /etc/collectd/collectd.conf.d/dsmr.conf\
#   2. set Device to your P1 cable (or use Host and Port),\
#   3. check with  collectd -t  and restart collectd.\
#
/^[[:space:]]*$/b
/^[[:space:]]*#/b
s/^/#>/
