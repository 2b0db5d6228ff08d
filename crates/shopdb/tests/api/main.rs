//! API tests: each runs on SQLite, MariaDB/MySQL and PostgreSQL against a throwaway database.

mod support;

mod assets;
mod auth;
mod backup;
mod bad_input;
mod binding;
mod bundled;
mod checkins;
mod collector;
mod computers;
mod demo;
mod equipment;
mod evolve;
mod faults;
mod folder;
mod migrations;
mod network;
mod notifications;
mod openapi;
mod plugins;
mod position;
mod printers;
mod roles;
mod search;
mod security;
mod testplugins;
mod transfer;
mod usb;
mod web;
