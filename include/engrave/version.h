/*
 * version.h — engrave's version, recorded in every run's environment.
 */
#ifndef ENGRAVE_VERSION_H
#define ENGRAVE_VERSION_H

#define ENGRAVE_VERSION "0.1.0"

#endif
