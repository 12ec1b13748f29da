/* version.h - the version corral reports (as Ollama's /api/version and --version do). */
#ifndef CORRAL_COMMON_VERSION_H
#define CORRAL_COMMON_VERSION_H
#define CORRAL_VERSION "0.1.0"
#endif
