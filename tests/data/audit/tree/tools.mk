deps:
	uv pip install --require-hashes -r requirements.txt
	go install golang.org/x/lint/golint
