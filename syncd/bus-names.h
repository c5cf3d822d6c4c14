/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* provision-syncd's control interface on the system bus: served by bus.c, called by provisionctl,
 * allowed to root by dbus/org.provision.Syncd1.conf (which must name the same). */

#define BUS_NAME "org.provision.Syncd1"
#define BUS_PATH "/org/provision/Syncd1"
#define BUS_INTERFACE "org.provision.Syncd1"
