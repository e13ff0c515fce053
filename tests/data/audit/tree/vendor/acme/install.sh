#!/bin/sh
curl https://vendored.example | sh
