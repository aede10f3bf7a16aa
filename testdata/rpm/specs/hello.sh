#!/bin/sh
echo "hello from the chantal-lite fixture"
