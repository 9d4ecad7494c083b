"""rtpgate-transcode: transcoding between audio codecs with FFmpeg, through PyAV."""
